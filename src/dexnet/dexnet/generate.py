"""`dexnet generate`: the Dex-Net 2.0 dataset pipeline (paper Sec. IV-A, Fig. 3, Appendix A).

Per object, on a Dask worker: load and preprocess the mesh, find its stable poses, sample antipodal grasps,
label them with the robust Ferrari-Canny quality; then per stable pose keep the grasps parallel to the table,
check gripper collisions for a top-down approach, render depth images from the Dex-Net camera model and cut
one grasp-aligned crop per (grasp, image) with the planner's crop transform. Each object becomes one shard.

Determinism: every object draws from its own random stream seeded by (seed, object id), so the dataset does
not depend on the number of workers or the order they finish in. Resumability: shards and skip records are
written atomically per object; `--resume` skips objects that already have one.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import yaml

from dexnet import __version__, dataset
from gqcnn_core.camera import CameraIntrinsics
from gqcnn_core.crop import CROP_TRANSFORM_VERSION, CropSpec, antialias, grasp_aligned_crops
from gqcnn_core.depth import inpaint, missing
from gqcnn_core.paths import DEFAULT_GRIPPER_FILE, WORKSPACE

DEFAULT_GRIPPER = DEFAULT_GRIPPER_FILE
SKIP_SUFFIX = ".skip.json"


@dataclass(frozen=True)
class GenerationConfig:
    """Everything that determines a dataset's contents (recorded in the manifest)."""

    seed: int = 0
    max_grasps: int = 100  # antipodal grasps sampled per object
    friction_coef: float = 0.6  # friction cone of the antipodal sampler
    quality_samples: int = 25  # Monte Carlo samples of the robust epsilon quality
    # Soft-contact patch radius of the finger pads (YuMi pads are about 2 cm wide). With Dex-Net's published
    # pose and friction noise, 5 mm gives ~1 % positives on these objects and 1 cm ~20 %, the paper's 21.2 %.
    finger_radius: float = 0.01
    target_min_extent: float = 0.04  # metres: objects rescaled so their smallest extent is this
    min_pose_probability: float = 0.05
    max_stable_poses: int = 5
    images_per_pose: int = 10
    parallel_tolerance_deg: float = 5.0  # grasp axis vs table plane
    edge_margin_px: int = 48  # grasp centres must be this far inside the image (half the crop window)
    crop_size: int = 96
    out_size: int = 32
    camera: dict = field(default_factory=lambda: {
        "fx": 525.0, "fy": 525.0, "cx": 319.5, "cy": 239.5, "width": 640, "height": 480})

    @classmethod
    def from_yaml(cls, path: Path | None, **overrides) -> GenerationConfig:
        values = {}
        if path is not None:
            values = yaml.safe_load(Path(path).read_text()) or {}
            unknown = set(values) - {f.name for f in fields(cls)}
            if unknown:
                raise ValueError(f"{path}: unknown generation settings {sorted(unknown)}")
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @property
    def intrinsics(self) -> CameraIntrinsics:
        return CameraIntrinsics(**self.camera)

    @property
    def crop_spec(self) -> CropSpec:
        return CropSpec(self.crop_size, self.out_size)


@dataclass(frozen=True)
class ObjectSpec:
    id: int
    name: str
    path: str
    split: str


def list_objects(use_pybullet: bool, mesh_dir: Path | None, max_objects: int | None) -> list[ObjectSpec]:
    """The object database: pybullet's random_urdfs meshes, then a user mesh directory; ids by position."""
    from dexnet.mesh import pybullet_object_paths, user_mesh_paths

    named: list[tuple[str, Path]] = []
    if use_pybullet:
        named += [(f"pybullet/{p.stem}", p) for p in pybullet_object_paths()]
    if mesh_dir is not None:
        if not Path(mesh_dir).is_dir():
            raise FileNotFoundError(f"mesh directory {mesh_dir} does not exist")
        named += [(f"user/{p.relative_to(mesh_dir).as_posix()}", p) for p in user_mesh_paths(mesh_dir)]
    if max_objects is not None:
        named = named[:max_objects]
    if not named:
        raise ValueError("no objects to generate (no pybullet meshes selected and no meshes in --mesh-dir)")
    return [ObjectSpec(i, name, str(path), dataset.object_split(name)) for i, (name, path) in enumerate(named)]


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


def generate_object(obj: ObjectSpec, config: GenerationConfig, gripper_path: str, out_dir: str) -> dict:
    """Generate one object's shard (runs on a worker). Returns the object's manifest entry."""
    from dexnet.antipodal import sample_antipodal_grasps
    from dexnet.collision import axis_parallel_to_table, grasps_collide
    from dexnet.mesh import MeshError, load_object, stable_poses
    from dexnet.quality import robust_epsilon_quality
    from gqcnn_core.gripper import load_gripper
    from gqcnn_core.render import ObjectRenderer, render_random_view

    start = time.perf_counter()
    entry = {"id": obj.id, "name": obj.name, "split": obj.split}
    shard_path = Path(out_dir) / dataset.shard_name(obj.id)
    rng = np.random.default_rng([config.seed, obj.id])
    gripper = load_gripper(gripper_path)
    camera, spec = config.intrinsics, config.crop_spec
    try:
        mesh = load_object(Path(obj.path), gripper, target_min_extent=config.target_min_extent)
        poses = stable_poses(mesh, config.min_pose_probability, config.max_stable_poses)
        if not poses:
            raise MeshError(f"no stable pose with probability >= {config.min_pose_probability}")
    except MeshError as err:
        entry |= {"status": "skipped", "reason": str(err)}
        text = json.dumps(entry).encode()
        dataset.atomic_write_bytes(shard_path.with_suffix(SKIP_SUFFIX), lambda f: f.write(text))
        return entry

    grasps = sample_antipodal_grasps(mesh, gripper, rng, max_grasps=config.max_grasps,
                                     friction_coef=config.friction_coef)
    robust_eq = robust_epsilon_quality(mesh, grasps, gripper, rng, num_samples=config.quality_samples,
                                       finger_radius=config.finger_radius)
    renderer = ObjectRenderer(mesh, camera)
    rows: list[dict[str, np.ndarray]] = []
    for pose_id, (table_object, _probability) in enumerate(poses):
        on_table = grasps.transformed(table_object)
        keep = np.flatnonzero(axis_parallel_to_table(on_table.axes, config.parallel_tolerance_deg))
        if len(keep) == 0:
            continue
        collides = grasps_collide(mesh.copy().apply_transform(table_object), on_table.centers[keep],
                                  on_table.axes[keep], gripper)
        for k in range(config.images_per_pose):
            depth, world_object, world_camera = render_random_view(renderer, table_object, rng)
            planar = world_object @ np.linalg.inv(table_object)
            centers_world = on_table.centers[keep] @ planar[:3, :3].T + planar[:3, 3]
            axes_world = on_table.axes[keep] @ planar[:3, :3].T
            centers_px, angles, depths, widths_px = project_grasps(
                centers_world, axes_world, on_table.widths[keep], world_camera, camera)
            m = config.edge_margin_px
            inside = ((centers_px[:, 0] >= m) & (centers_px[:, 0] <= camera.width - 1 - m)
                      & (centers_px[:, 1] >= m) & (centers_px[:, 1] <= camera.height - 1 - m) & (depths > 0))
            if not inside.any():
                continue
            if missing(depth).any():
                depth = inpaint(depth)
            crops = grasp_aligned_crops(antialias(depth, spec), centers_px[inside], angles[inside], spec,
                                        prefiltered=True)
            index = keep[inside]
            n = len(index)
            rows.append({
                "crops": crops, "gripper_depth": depths[inside], "robust_eq": robust_eq[index],
                "collision": collides[inside], "object_id": np.full(n, obj.id),
                "stable_pose_id": np.full(n, pose_id), "image_id": np.full(n, pose_id * config.images_per_pose + k),
                "grasp_id": index, "center_px": centers_px[inside], "angle": angles[inside],
                "width": on_table.widths[index], "width_px": widths_px[inside],
            })
    arrays = ({key: np.concatenate([r[key] for r in rows]) for key in dataset.FIELDS} if rows
              else dataset.empty_shard(spec.out_size))
    count = dataset.write_shard(shard_path, arrays)
    positives = int(dataset.labels(arrays["robust_eq"], arrays["collision"]).sum())
    return entry | {"status": "done", "shard": dataset.shard_name(obj.id), "count": count, "positives": positives,
                    "grasps": len(grasps), "stable_poses": len(poses), "seconds": round(time.perf_counter() - start, 2)}


def recorded_entry(obj: ObjectSpec, out_dir: Path) -> dict | None:
    """The entry of an object finished by an earlier (possibly killed) run, read back from its files."""
    shard_path = out_dir / dataset.shard_name(obj.id)
    skip_path = shard_path.with_suffix(SKIP_SUFFIX)
    if skip_path.is_file():
        return json.loads(skip_path.read_text())
    if shard_path.is_file():
        data = dataset.read_shard(shard_path, ("robust_eq", "collision"))
        return {"id": obj.id, "name": obj.name, "split": obj.split, "status": "done",
                "shard": dataset.shard_name(obj.id), "count": len(data["robust_eq"]),
                "positives": int(dataset.labels(data["robust_eq"], data["collision"]).sum())}
    return None


def code_version() -> str:
    try:
        commit = subprocess.run(["git", "-C", str(WORKSPACE), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"dexnet {__version__}" + (f" (git {commit})" if commit else "")


def build_manifest(config: GenerationConfig, gripper_path: str, objects: list[ObjectSpec], entries: dict) -> dict:
    """Manifest from the per-object entries; contains nothing run-dependent (timings stay in the run log)."""
    records = []
    for obj in objects:
        entry = {k: v for k, v in entries.get(obj.id, {}).items() if k not in ("seconds",)}
        records.append({"id": obj.id, "name": obj.name, "split": obj.split, "status": "pending"} | entry)
    by_split = {}
    for split in dataset.SPLITS:
        done = [r for r in records if r["split"] == split and r["status"] == "done"]
        by_split[split] = {"objects": len(done), "datapoints": sum(r["count"] for r in done),
                           "positives": sum(r["positives"] for r in done)}
    total = sum(s["datapoints"] for s in by_split.values())
    positives = sum(s["positives"] for s in by_split.values())
    from gqcnn_core.gripper import load_gripper

    return {
        "format_version": dataset.FORMAT_VERSION,
        "code_version": code_version(),
        "seed": config.seed,
        "config": asdict(config),
        "gripper": asdict(load_gripper(gripper_path)),
        "crop": {"crop_size": config.crop_size, "out_size": config.out_size,
                 "transform_version": CROP_TRANSFORM_VERSION},
        "eq_threshold": dataset.EQ_THRESHOLD,
        "split_fractions": dict(zip(dataset.SPLITS, dataset.SPLIT_FRACTIONS, strict=True)),
        "objects": records,
        "counts": {"datapoints": total, "positives": positives, "by_split": by_split,
                   "objects_done": sum(r["status"] == "done" for r in records),
                   "objects_skipped": sum(r["status"] == "skipped" for r in records),
                   "objects_pending": sum(r["status"] == "pending" for r in records)},
        "positive_rate": positives / total if total else 0.0,
    }


def start_client(workers: int, scheduler: str | None):
    """A Dask client on a local process cluster (one single-threaded worker per core) or a given scheduler."""
    import logging

    from dask.distributed import Client, LocalCluster

    logging.getLogger("distributed").setLevel(logging.WARNING)  # the progress bar says what matters
    if scheduler:
        return Client(scheduler)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")  # one core per worker: BLAS threads would oversubscribe
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                           silence_logs=40)
    return Client(cluster)


def generate(
    out_dir: Path, config: GenerationConfig, objects: list[ObjectSpec], gripper_path: str = str(DEFAULT_GRIPPER),
    workers: int = 2, scheduler: str | None = None, resume: bool = False, progress: bool = True,
) -> dict:
    """Generate (or finish) a dataset in `out_dir`; returns the manifest."""
    from dask.distributed import as_completed
    from tqdm import tqdm

    out_dir = Path(out_dir)
    manifest_path = out_dir / dataset.MANIFEST
    if manifest_path.exists():
        if not resume:
            raise ValueError(f"{out_dir} already holds a dataset: pass --resume to finish it or choose a new --out")
        previous = json.loads(manifest_path.read_text())
        if previous.get("config") != asdict(config):
            raise ValueError(f"{out_dir} was generated with a different configuration; --resume needs the same one")
    entries = {}
    if resume:
        # Half-written files of a killed run (atomic writes never renamed them into place) are garbage.
        for stale in (out_dir / dataset.SHARD_DIR).glob(".*.tmp"):
            stale.unlink(missing_ok=True)
        for obj in objects:
            entry = recorded_entry(obj, out_dir)
            if entry is not None:
                entries[obj.id] = entry
    todo = [obj for obj in objects if obj.id not in entries]
    (out_dir / dataset.SHARD_DIR).mkdir(parents=True, exist_ok=True)
    dataset.write_manifest(out_dir, build_manifest(config, gripper_path, objects, entries))
    log_path = out_dir / "generation_log.jsonl"
    start = time.perf_counter()
    new_points = 0
    if todo:
        client = start_client(workers, scheduler)
        try:
            futures = [client.submit(generate_object, obj, config, gripper_path, str(out_dir), pure=False,
                                     key=f"object-{obj.id}") for obj in todo]
            bar = tqdm(total=len(todo), unit="obj", desc="generate", disable=not progress, dynamic_ncols=True)
            for future in as_completed(futures):
                entry = future.result()
                entries[entry["id"]] = entry
                new_points += entry.get("count", 0)
                with open(log_path, "a") as log:
                    log.write(json.dumps(entry) + "\n")
                dataset.write_manifest(out_dir, build_manifest(config, gripper_path, objects, entries))
                elapsed = time.perf_counter() - start
                bar.set_postfix(points=new_points, rate=f"{new_points / elapsed:.0f}/s")
                bar.update()
            bar.close()
        finally:
            client.close()
    manifest = build_manifest(config, gripper_path, objects, entries)
    dataset.write_manifest(out_dir, manifest)
    manifest["_run"] = {"seconds": time.perf_counter() - start, "new_datapoints": new_points,
                        "new_objects": len(todo)}
    return manifest


def summary_lines(manifest: dict) -> list[str]:
    counts = manifest["counts"]
    lines = [f"objects: {counts['objects_done']} done, {counts['objects_skipped']} skipped, "
             f"{counts['objects_pending']} pending",
             f"datapoints: {counts['datapoints']} ({counts['positives']} positive, "
             f"positive rate {100 * manifest['positive_rate']:.1f}%; paper: 21.2%)"]
    for split, c in counts["by_split"].items():
        lines.append(f"  {split:5s}: {c['objects']} objects, {c['datapoints']} datapoints, {c['positives']} positive")
    reasons: dict[str, int] = {}
    for record in manifest["objects"]:
        if record["status"] == "skipped":
            reasons[record["reason"]] = reasons.get(record["reason"], 0) + 1
    for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1])[:5]:
        lines.append(f"  skipped x{n}: {reason}")
    return lines


def run_cli(args: argparse.Namespace) -> int:
    config = GenerationConfig.from_yaml(args.config, seed=args.seed, images_per_pose=args.images_per_pose,
                                        max_grasps=args.max_grasps)
    if not Path(args.gripper).is_file():
        raise FileNotFoundError(f"gripper file {args.gripper} does not exist")
    objects = list_objects(not args.no_pybullet, args.mesh_dir, args.max_objects)
    manifest = generate(Path(args.out), config, objects, str(args.gripper), args.workers, args.scheduler,
                        args.resume)
    run = manifest.pop("_run")
    rate = run["new_datapoints"] / run["seconds"] if run["seconds"] > 0 else 0.0
    print(f"generated {run['new_datapoints']} datapoints from {run['new_objects']} objects in "
          f"{run['seconds']:.1f} s ({rate:.0f} datapoints/s) into {args.out}")
    print("\n".join(summary_lines(manifest)))
    return 0


def register_cli(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("generate", help="generate a Dex-Net 2.0 dataset",
                              description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, type=Path, help="dataset directory")
    p.add_argument("--config", type=Path, help="generation settings YAML (see config/dexnet_generation.yaml)")
    p.add_argument("--gripper", type=Path, default=DEFAULT_GRIPPER, help="gripper YAML")
    p.add_argument("--mesh-dir", type=Path, help="also use the .obj/.stl/.ply meshes in this directory")
    p.add_argument("--no-pybullet", action="store_true", help="do not use pybullet_data/random_urdfs")
    p.add_argument("--max-objects", type=int, help="use only the first N objects")
    p.add_argument("--seed", type=int)
    p.add_argument("--images-per-pose", type=int)
    p.add_argument("--max-grasps", type=int)
    p.add_argument("--workers", type=int, default=2, help="local worker processes (ignored with --scheduler)")
    p.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786")
    p.add_argument("--resume", action="store_true", help="finish an interrupted run in --out")
    p.set_defaults(func=run_cli)
