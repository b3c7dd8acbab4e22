"""One scene's datapoints: a single object in its stable poses, or a settled heap (runs on a Dask worker).

Both kinds go through `image_datapoints`: draw a sensor preset, apply it to the ideal rendered depth
(`gqcnn_core.sensor`), inpaint the holes exactly as the planner does (`gqcnn_core.depth.inpaint`), project the
grasps and cut one crop per visible grasp with the planner's crop transform. A single object's per-object
precomputation (mesh, grasps, robust quality) is also written to `objects/` so heaps reuse it: a grasp in a heap
keeps the robust quality of its own object and is collision-checked against the whole heap and the table.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from dexnet import dataset
from gqcnn_core.camera import CameraIntrinsics
from gqcnn_core.crop import antialias, grasp_aligned_crops
from gqcnn_core.depth import inpaint, missing
from gqcnn_core.sensor import SENSOR_PRESETS, apply_sensor

SKIP_SUFFIX = ".skip.json"
DONE_SUFFIX = ".json"  # a finished scene's manifest entry beside its shard, so --resume keeps every field
OBJECT_CACHE_DIR = "objects"
SINGLE, HEAP = 0, 1  # scene_kind values


def object_cache_path(out_dir: str | Path, object_id: int) -> Path:
    return Path(out_dir) / OBJECT_CACHE_DIR / f"obj_{object_id:06d}.npz"


def project_grasps(
    centers_world: np.ndarray, axes_world: np.ndarray, widths: np.ndarray, world_camera: np.ndarray,
    camera: CameraIntrinsics,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Grasps in the world -> image centre pixels, image angles, gripper depths and widths in pixels."""
    camera_world = np.linalg.inv(world_camera)
    centers = centers_world @ camera_world[:3, :3].T + camera_world[:3, 3]
    axes = axes_world @ camera_world[:3, :3].T
    ends = np.stack([centers - axes * widths[:, None] / 2, centers + axes * widths[:, None] / 2], axis=1)
    ends_px = camera.project(ends)
    delta = ends_px[:, 1] - ends_px[:, 0]
    return camera.project(centers), np.arctan2(delta[:, 1], delta[:, 0]), centers[:, 2], np.linalg.norm(delta, axis=1)


def sample_camera(config, rng: np.random.Generator) -> tuple[np.ndarray, float, float]:
    """(world_camera, camera height m, tilt off vertical rad) from the configured camera distribution."""
    from gqcnn_core.render import sample_camera_pose, sample_mount_camera_pose

    if config.camera_poses == "mount":
        return sample_mount_camera_pose(rng, tuple(config.camera_height), config.camera_max_tilt_deg)
    world_camera = sample_camera_pose(rng)
    tilt = float(np.arccos(np.clip(-world_camera[2, 2], -1.0, 1.0)))
    return world_camera, float(world_camera[2, 3]), tilt


# Rendered region around the grasp centres: half the crop's diagonal plus the anti-aliasing filter, and on the
# +x side room for the surfaces that cast an emitter shadow into it (sensor.occluded_from_emitter).
WINDOW_MARGIN_PX = 72
SHADOW_MARGIN_PX = 64


def crop_window(centers_px: np.ndarray, camera: CameraIntrinsics) -> tuple[int, int, int, int]:
    """(u0, v0, u1, v1): the part of the image the crops around `centers_px` (N, 2) can read, clipped."""
    u0, v0 = np.floor(centers_px.min(axis=0)).astype(int) - WINDOW_MARGIN_PX
    u1, v1 = np.ceil(centers_px.max(axis=0)).astype(int) + WINDOW_MARGIN_PX + 1
    return max(u0, 0), max(v0, 0), min(u1 + SHADOW_MARGIN_PX, camera.width), min(v1, camera.height)


def image_datapoints(
    renderer, world_object: np.ndarray, world_camera: np.ndarray, camera_height: float, camera_tilt: float,
    centers: np.ndarray, axes: np.ndarray, widths: np.ndarray, columns: dict[str, np.ndarray], config,
    rng: np.random.Generator,
) -> dict[str, np.ndarray] | None:
    """The datapoints of one image (world-frame grasps) or None when no grasp is inside the image.

    Renders only the window the crops read, applies a sensor preset drawn per image to it, inpaints its holes
    with the planner's inpainting and cuts the crops. `columns` holds the per-grasp dataset fields (robust_eq,
    collision, object_id, grasp_id, ...), indexed like the grasps; the image's own fields are added here.
    """
    camera, spec = config.intrinsics, config.crop_spec
    preset = config.sensor_presets[int(rng.integers(len(config.sensor_presets)))]
    centers_px, angles, depths, widths_px = project_grasps(centers, axes, widths, world_camera, camera)
    m = config.edge_margin_px
    inside = ((centers_px[:, 0] >= m) & (centers_px[:, 0] <= camera.width - 1 - m)
              & (centers_px[:, 1] >= m) & (centers_px[:, 1] <= camera.height - 1 - m) & (depths > 0))
    if not inside.any():
        return None
    u0, v0, u1, v1 = crop_window(centers_px[inside], camera)
    ideal = renderer.render(world_camera, world_object, window=(u0, v0, u1, v1))[v0:v1, u0:u1]
    window_camera = replace(camera, cx=camera.cx - u0, cy=camera.cy - v0, width=u1 - u0, height=v1 - v0)
    sensed = apply_sensor(ideal, window_camera, preset, rng)
    holes = missing(sensed)
    if holes.all():
        return None
    if holes.any():
        sensed = inpaint(sensed)  # the planner's own inpainting (policies.prepare_inputs)
    local = centers_px[inside] - np.array([u0, v0])
    crops = grasp_aligned_crops(antialias(sensed, spec), local, angles[inside], spec, prefiltered=True)
    n = int(inside.sum())
    return {key: value[inside] for key, value in columns.items()} | {
        "crops": crops, "gripper_depth": depths[inside], "center_px": centers_px[inside], "angle": angles[inside],
        "width_px": widths_px[inside], "sensor_preset": np.full(n, SENSOR_PRESETS.index(preset)),
        "camera_height": np.full(n, camera_height), "camera_tilt": np.full(n, camera_tilt),
        "executed": np.full(n, -1),
    }


def _finish(rows: list[dict], spec, shard_path: Path, entry: dict) -> dict:
    """Write the scene's entry, then its shard (a shard on disk always has its entry); return the entry."""
    arrays = ({key: np.concatenate([r[key] for r in rows]) for key in dataset.FIELDS} if rows
              else dataset.empty_shard(spec.out_size))
    count = len(arrays["crops"])
    entry = entry | {
        "status": "done", "count": count,
        "positives": int(dataset.shard_labels(arrays).sum()),
        "gripper_depth_range": ([round(float(arrays["gripper_depth"].min()), 4),
                                 round(float(arrays["gripper_depth"].max()), 4)] if count else [])}
    text = json.dumps({k: v for k, v in entry.items() if k != "seconds"}).encode()
    dataset.atomic_write_bytes(shard_path.with_suffix(DONE_SUFFIX), lambda f: f.write(text))
    dataset.write_shard(shard_path, arrays)
    return entry


def _skip(entry: dict, shard_path: Path, reason: str) -> dict:
    entry = entry | {"status": "skipped", "reason": reason}
    text = json.dumps(entry).encode()
    dataset.atomic_write_bytes(shard_path.with_suffix(SKIP_SUFFIX), lambda f: f.write(text))
    return entry


def generate_object(obj, config, gripper_path: str, out_dir: str) -> dict:
    """One object's shard (and its cache for heaps). Returns the object's manifest entry."""
    from dexnet.antipodal import sample_antipodal_grasps
    from dexnet.collision import axis_parallel_to_table, grasps_collide
    from dexnet.mesh import MeshError, load_object, sample_target_min_extent, stable_poses
    from dexnet.quality import robust_epsilon_quality
    from gqcnn_core.gripper import load_gripper
    from gqcnn_core.render import ObjectRenderer, sample_planar_pose

    start = time.perf_counter()
    entry = {"id": obj.id, "name": obj.name, "split": obj.split, "kind": "object"}
    shard_path = Path(out_dir) / dataset.shard_name(obj.id)
    rng = np.random.default_rng([config.seed, obj.id])
    gripper = load_gripper(gripper_path)
    drawn = config.scale == "log_uniform"
    target = sample_target_min_extent(rng, *config.min_extent_range) if drawn else config.target_min_extent
    try:
        mesh = load_object(Path(obj.path), gripper, target_min_extent=target, max_extent=config.max_extent,
                           fit_max_extent=drawn)
        poses = stable_poses(mesh, config.min_pose_probability, config.max_stable_poses)
        if not poses:
            raise MeshError(f"no stable pose with probability >= {config.min_pose_probability}")
    except MeshError as err:
        return _skip(entry, shard_path, str(err))
    entry["extents_m"] = [round(float(e), 4) for e in np.sort(mesh.extents)]
    entry["scale"] = round(float(mesh.metadata["scale"]), 6)

    grasps = sample_antipodal_grasps(mesh, gripper, rng, max_grasps=config.max_grasps,
                                     friction_coef=config.friction_coef)
    robust_eq = robust_epsilon_quality(mesh, grasps, gripper, rng, num_samples=config.quality_samples,
                                       finger_radius=config.finger_radius)
    if config.heaps_per_object > 0 and len(grasps):
        cache = {"vertices": np.asarray(mesh.vertices, np.float64), "faces": np.asarray(mesh.faces, np.int32),
                 "centers": grasps.centers, "axes": grasps.axes, "widths": grasps.widths, "contacts": grasps.contacts,
                 "robust_eq": np.asarray(robust_eq, np.float32)}
        dataset.atomic_write_bytes(object_cache_path(out_dir, obj.id), lambda f: np.savez_compressed(f, **cache))
    renderer = ObjectRenderer(mesh, config.intrinsics)
    rows: list[dict[str, np.ndarray]] = []
    for pose_id, (table_object, _probability) in enumerate(poses):
        on_table = grasps.transformed(table_object)
        keep = np.flatnonzero(axis_parallel_to_table(on_table.axes, config.parallel_tolerance_deg))
        if len(keep) == 0:
            continue
        collides = grasps_collide(mesh.copy().apply_transform(table_object), on_table.centers[keep],
                                  on_table.axes[keep], gripper)
        n = len(keep)
        for k in range(config.images_per_pose):
            world_object = sample_planar_pose(rng) @ table_object
            world_camera, height, tilt = sample_camera(config, rng)
            planar = world_object @ np.linalg.inv(table_object)
            columns = {"robust_eq": robust_eq[keep], "collision": collides, "object_id": np.full(n, obj.id),
                       "stable_pose_id": np.full(n, pose_id), "grasp_id": keep, "width": on_table.widths[keep],
                       "image_id": np.full(n, pose_id * config.images_per_pose + k),
                       "scene_kind": np.full(n, SINGLE), "heap_id": np.full(n, -1)}
            centers_world = on_table.centers[keep] @ planar[:3, :3].T + planar[:3, 3]
            row = image_datapoints(renderer, world_object, world_camera, height, tilt, centers_world,
                                   on_table.axes[keep] @ planar[:3, :3].T, on_table.widths[keep], columns, config, rng)
            if row is not None:
                rows.append(row)
    entry |= {"shard": dataset.shard_name(obj.id), "grasps": len(grasps), "stable_poses": len(poses),
              "seconds": round(time.perf_counter() - start, 2)}
    return _finish(rows, config.crop_spec, shard_path, entry)


def generate_heap(plan, config, gripper_path: str, out_dir: str) -> dict:
    """One heap's shard from its objects' caches. Returns the heap's manifest entry."""
    import trimesh

    from dexnet.antipodal import Grasps3D
    from dexnet.collision import axis_parallel_to_table, grasps_collide
    from dexnet.heaps import heap_mesh, settle_heap
    from gqcnn_core.gripper import load_gripper
    from gqcnn_core.render import ObjectRenderer

    start = time.perf_counter()
    entry = {"id": dataset.heap_record_id(plan.id), "name": f"heap/{plan.id:06d}", "split": plan.split,
             "kind": "heap", "objects": list(plan.object_ids)}
    shard_path = Path(out_dir) / dataset.heap_shard_name(plan.id)
    rng = np.random.default_rng([config.seed, 7919, plan.id, 1])
    gripper = load_gripper(gripper_path)
    meshes, grasps, qualities = [], [], []
    for object_id in plan.object_ids:
        with np.load(object_cache_path(out_dir, object_id)) as cache:
            meshes.append(trimesh.Trimesh(cache["vertices"], cache["faces"], process=False))
            grasps.append(Grasps3D(cache["centers"], cache["axes"], cache["widths"], cache["contacts"]))
            qualities.append(cache["robust_eq"])
    poses = settle_heap(meshes, rng)
    world = heap_mesh(meshes, poses)
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("centers", "axes", "widths", "robust_eq", "object_id",
                                                          "grasp_id")}
    for object_id, object_grasps, quality, pose in zip(plan.object_ids, grasps, qualities, poses, strict=True):
        placed = object_grasps.transformed(pose)
        keep = np.flatnonzero(axis_parallel_to_table(placed.axes, config.parallel_tolerance_deg))
        for key, value in (("centers", placed.centers[keep]), ("axes", placed.axes[keep]),
                           ("widths", placed.widths[keep]), ("robust_eq", quality[keep]),
                           ("object_id", np.full(len(keep), object_id)), ("grasp_id", keep)):
            parts[key].append(value)
    g = {k: np.concatenate(v) for k, v in parts.items()}
    n = len(g["centers"])
    if n == 0:
        return _skip(entry, shard_path, "no grasp parallel to the table once settled")
    collides = grasps_collide(world, g["centers"], g["axes"], gripper)
    renderer = ObjectRenderer(world, config.intrinsics)
    columns = {"robust_eq": g["robust_eq"], "collision": collides, "object_id": g["object_id"],
               "grasp_id": g["grasp_id"], "width": g["widths"], "stable_pose_id": np.full(n, -1),
               "scene_kind": np.full(n, HEAP), "heap_id": np.full(n, plan.id)}
    rows = []
    for k in range(config.heap_images):
        world_camera, height, tilt = sample_camera(config, rng)
        row = image_datapoints(renderer, np.eye(4), world_camera, height, tilt, g["centers"], g["axes"], g["widths"],
                               columns | {"image_id": np.full(n, k)}, config, rng)
        if row is not None:
            rows.append(row)
    entry |= {"shard": dataset.heap_shard_name(plan.id), "grasps": n, "seconds": round(time.perf_counter() - start, 2)}
    return _finish(rows, config.crop_spec, shard_path, entry)
