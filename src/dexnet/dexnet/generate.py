"""`dexnet generate`: the Dex-Net 2.0 dataset pipeline (paper Sec. IV-A, Fig. 3, Appendix A), with the v2 scenes.

Phase 1, per object on a Dask worker (`scenes.generate_object`): load the mesh at its drawn scale, find its
stable poses, sample antipodal grasps and label them with the robust Ferrari-Canny quality; then per stable
pose keep the grasps parallel to the table, check gripper collisions for a top-down approach, render depth
images from the camera distribution, apply a sensor preset and cut one grasp-aligned crop per (grasp, image)
with the planner's crop transform. Phase 2, per heap (`scenes.generate_heap`, Dex-Net 2.1 style): settle 2-8
objects of one split on the table, label each grasp with its own object's robust quality, check collisions
against the whole heap and the table, render and crop the same way. Each scene becomes one shard.

Determinism: every object and every heap draws from its own random stream seeded by (seed, id), so the dataset
does not depend on the number of workers or the order they finish in. Resumability: shards and skip records
are written atomically per scene; `--resume` skips scenes that already have one.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import yaml

from dexnet import __version__, dataset
from dexnet.scenes import DONE_SUFFIX, SKIP_SUFFIX, generate_heap, generate_object
from dexnet.scenes import project_grasps as project_grasps  # re-exported for the sim benchmarks
from gqcnn_core.camera import CameraIntrinsics
from gqcnn_core.crop import CROP_TRANSFORM_VERSION, CropSpec
from gqcnn_core.paths import DEFAULT_GRIPPER_FILE, WORKSPACE
from gqcnn_core.sensor import SENSOR_PRESETS

DEFAULT_GRIPPER = DEFAULT_GRIPPER_FILE


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
    # Object scale: "log_uniform" draws each object's smallest side log-uniform in min_extent_range (shrunk
    # if its largest side would pass max_extent); "fixed" gives every object target_min_extent (v1, 4 cm).
    scale: str = "log_uniform"
    min_extent_range: tuple[float, float] = (0.01, 0.06)
    target_min_extent: float = 0.04
    max_extent: float = 0.25
    # Camera: "mount" = height U(camera_height) m above the table, tilted U[0, camera_max_tilt_deg] off
    # vertical (v2); "dexnet2" = the paper's sphere of radius 0.65-0.75 m, 9-18 deg (v1).
    camera_poses: str = "mount"
    camera_height: tuple[float, float] = (0.5, 0.9)
    camera_max_tilt_deg: float = 25.0
    sensor_presets: tuple[str, ...] = SENSOR_PRESETS  # one drawn uniformly per image
    heaps_per_object: float = 0.5  # heap scenes per usable object (0 = no heaps, v1)
    heap_sizes: tuple[int, int] = (2, 8)  # objects per heap, uniform
    heap_images: int = 10
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
        for key in ("min_extent_range", "camera_height", "sensor_presets", "heap_sizes"):
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values)

    def __post_init__(self) -> None:
        if self.scale not in ("log_uniform", "fixed"):
            raise ValueError(f"scale must be 'log_uniform' or 'fixed', not '{self.scale}'")
        if self.camera_poses not in ("mount", "dexnet2"):
            raise ValueError(f"camera_poses must be 'mount' or 'dexnet2', not '{self.camera_poses}'")
        unknown = set(self.sensor_presets) - set(SENSOR_PRESETS)
        if unknown or not self.sensor_presets:
            raise ValueError(f"sensor_presets must be a non-empty subset of {SENSOR_PRESETS}, got "
                             f"{list(self.sensor_presets)}")
        if not 1 <= self.heap_sizes[0] <= self.heap_sizes[1]:
            raise ValueError(f"heap_sizes must be 1 <= min <= max, got {list(self.heap_sizes)}")

    def as_json(self) -> dict:
        """The settings as the manifest stores them (tuples become lists)."""
        return json.loads(json.dumps(asdict(self)))

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


def recorded_entry(record_id: int, name: str, split: str, shard: str, out_dir: Path, kind: str) -> dict | None:
    """The entry of a scene finished by an earlier (possibly killed) run, read back from its files."""
    shard_path = out_dir / shard
    skip_path = shard_path.with_suffix(SKIP_SUFFIX)
    if skip_path.is_file():
        return json.loads(skip_path.read_text())
    done_path = shard_path.with_suffix(DONE_SUFFIX)
    if shard_path.is_file() and done_path.is_file():
        return json.loads(done_path.read_text())
    if shard_path.is_file():  # killed between the shard and its entry: what the shard itself says
        data = dataset.read_shard(shard_path, ("robust_eq", "collision", "gripper_depth"))
        depths = data["gripper_depth"]
        return {"id": record_id, "name": name, "split": split, "kind": kind, "status": "done", "shard": shard,
                "count": len(depths), "positives": int(dataset.labels(data["robust_eq"], data["collision"]).sum()),
                "gripper_depth_range": [round(float(depths.min()), 4), round(float(depths.max()), 4)]
                if len(depths) else []}
    return None


def code_version() -> str:
    try:
        commit = subprocess.run(["git", "-C", str(WORKSPACE), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"dexnet {__version__}" + (f" (git {commit})" if commit else "")


def build_manifest(config: GenerationConfig, gripper_path: str, objects: list[ObjectSpec], entries: dict,
                   heap_entries: dict | None = None) -> dict:
    """Manifest from the per-scene entries; contains nothing run-dependent (timings stay in the run log).

    manifest["objects"] lists the objects, then the heaps (kind "heap"), so every reader that walks it for
    shards (dataset.split_shards) sees both.
    """
    records = []
    for obj in objects:
        entry = {k: v for k, v in entries.get(obj.id, {}).items() if k not in ("seconds",)}
        records.append({"id": obj.id, "name": obj.name, "split": obj.split, "kind": "object",
                        "status": "pending"} | entry)
    for heap_id in sorted(heap_entries or {}):
        records.append({k: v for k, v in heap_entries[heap_id].items() if k not in ("seconds",)})
    by_split, by_kind = {}, {}
    for split in dataset.SPLITS:
        done = [r for r in records if r["split"] == split and r["status"] == "done"]
        by_split[split] = {"objects": sum(r["kind"] == "object" for r in done),
                           "heaps": sum(r["kind"] == "heap" for r in done),
                           "datapoints": sum(r["count"] for r in done), "positives": sum(r["positives"] for r in done)}
    for kind in ("object", "heap"):
        done = [r for r in records if r["kind"] == kind and r["status"] == "done"]
        by_kind[kind] = {"scenes": len(done), "datapoints": sum(r["count"] for r in done),
                         "positives": sum(r["positives"] for r in done)}
    total = sum(s["datapoints"] for s in by_split.values())
    positives = sum(s["positives"] for s in by_split.values())
    ranges = [r["gripper_depth_range"] for r in records if r.get("gripper_depth_range")]
    from gqcnn_core.gripper import load_gripper

    objects_only = [r for r in records if r["kind"] == "object"]
    return {
        "format_version": dataset.FORMAT_VERSION,
        "code_version": code_version(),
        "seed": config.seed,
        "config": config.as_json(),
        "gripper": asdict(load_gripper(gripper_path)),
        "crop": {"crop_size": config.crop_size, "out_size": config.out_size,
                 "transform_version": CROP_TRANSFORM_VERSION},
        # What the model card records: the focal length and the depths the crops were rendered at.
        "camera": config.camera | {
            "poses": config.camera_poses, "height_range_m": list(config.camera_height),
            "max_tilt_deg": config.camera_max_tilt_deg,
            "depth_range_m": [min(r[0] for r in ranges), max(r[1] for r in ranges)] if ranges else [],
            "sensor_presets": list(config.sensor_presets)},
        "eq_threshold": dataset.EQ_THRESHOLD,
        "split_fractions": dict(zip(dataset.SPLITS, dataset.SPLIT_FRACTIONS, strict=True)),
        "objects": records,
        "counts": {"datapoints": total, "positives": positives, "by_split": by_split, "by_kind": by_kind,
                   "heap_fraction": by_kind["heap"]["datapoints"] / total if total else 0.0,
                   "objects_done": sum(r["status"] == "done" for r in objects_only),
                   "objects_skipped": sum(r["status"] == "skipped" for r in objects_only),
                   "objects_pending": sum(r["status"] == "pending" for r in objects_only)},
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


def _run_tasks(client, function, items, config, gripper_path, out_dir, desc, progress, on_entry) -> None:
    from dask.distributed import as_completed
    from tqdm import tqdm

    if not items:
        return
    futures = [client.submit(function, item, config, gripper_path, str(out_dir), pure=False,
                             key=f"{desc}-{item.id}") for item in items]
    bar = tqdm(total=len(items), unit=desc, desc=f"generate {desc}s", disable=not progress, dynamic_ncols=True,
               mininterval=5)
    start, points = time.perf_counter(), 0
    for future in as_completed(futures):
        entry = future.result()
        points += entry.get("count", 0)
        on_entry(entry)
        bar.set_postfix(points=points, rate=f"{points / (time.perf_counter() - start):.0f}/s")
        bar.update()
    bar.close()


def heap_plans(config: GenerationConfig, out_dir: Path, objects: list[ObjectSpec], entries: dict) -> list:
    """The heaps to build: heaps_per_object x the usable objects, each drawn from one split's usable objects."""
    from dexnet.heaps import choose_heap
    from dexnet.scenes import object_cache_path

    usable = [o for o in objects if entries.get(o.id, {}).get("status") == "done"
              and object_cache_path(out_dir, o.id).is_file()]
    by_split: dict[str, list[int]] = {}
    for obj in usable:
        by_split.setdefault(obj.split, []).append(obj.id)
    count = round(config.heaps_per_object * len(usable))
    plans = [choose_heap(h, config.seed, by_split, tuple(config.heap_sizes)) for h in range(count)]
    return [p for p in plans if p is not None]


def _heap_matches(out_dir: Path, entry: dict, plan) -> bool:
    """Whether a heap found on disk holds the objects its plan now names (they change with the object list)."""
    if entry["status"] == "skipped":
        return sorted(entry.get("objects", [])) == sorted(plan.object_ids)
    if not entry["count"]:
        return True
    object_ids = dataset.read_shard(out_dir / entry["shard"], ("object_id",))["object_id"]
    return set(object_ids.tolist()) <= set(plan.object_ids)


def generate(
    out_dir: Path, config: GenerationConfig, objects: list[ObjectSpec], gripper_path: str = str(DEFAULT_GRIPPER),
    workers: int = 2, scheduler: str | None = None, resume: bool = False, progress: bool = True,
) -> dict:
    """Generate (or finish) a dataset in `out_dir`: objects, then heaps; returns the manifest."""
    out_dir = Path(out_dir)
    manifest_path = out_dir / dataset.MANIFEST
    if manifest_path.exists():
        if not resume:
            raise ValueError(f"{out_dir} already holds a dataset: pass --resume to finish it or choose a new --out")
        previous = json.loads(manifest_path.read_text())
        if previous.get("config") != config.as_json():
            raise ValueError(f"{out_dir} was generated with a different configuration; --resume needs the same one")
    entries, heap_entries = {}, {}
    if resume:
        # Half-written files of a killed run (atomic writes never renamed them into place) are garbage.
        for stale in [*(out_dir / dataset.SHARD_DIR).glob(".*.tmp"), *(out_dir / "objects").glob(".*.tmp")]:
            stale.unlink(missing_ok=True)
        for obj in objects:
            entry = recorded_entry(obj.id, obj.name, obj.split, dataset.shard_name(obj.id), out_dir, "object")
            if entry is not None:
                entries[obj.id] = entry
    todo = [obj for obj in objects if obj.id not in entries]
    (out_dir / dataset.SHARD_DIR).mkdir(parents=True, exist_ok=True)
    dataset.write_manifest(out_dir, build_manifest(config, gripper_path, objects, entries))
    log_path = out_dir / "generation_log.jsonl"
    start = time.perf_counter()
    new_points = 0

    def record(entry: dict) -> None:
        nonlocal new_points
        new_points += entry.get("count", 0)
        target = heap_entries if entry.get("kind") == "heap" else entries
        target[entry["id"] - dataset.HEAP_ID_OFFSET if entry.get("kind") == "heap" else entry["id"]] = entry
        with open(log_path, "a") as log:
            log.write(json.dumps(entry) + "\n")
        dataset.write_manifest(out_dir, build_manifest(config, gripper_path, objects, entries, heap_entries))

    client = None
    try:
        if todo:
            client = start_client(workers, scheduler)
            _run_tasks(client, generate_object, todo, config, gripper_path, out_dir, "object", progress, record)
        plans = heap_plans(config, out_dir, objects, entries)
        heap_todo = []
        for plan in plans:
            entry = recorded_entry(dataset.heap_record_id(plan.id), f"heap/{plan.id:06d}", plan.split,
                                   dataset.heap_shard_name(plan.id), out_dir, "heap") if resume else None
            if entry is not None and _heap_matches(out_dir, entry, plan):
                heap_entries[plan.id] = entry | {"objects": list(plan.object_ids)}
            else:
                heap_todo.append(plan)
        if heap_todo:
            client = client or start_client(workers, scheduler)
            _run_tasks(client, generate_heap, heap_todo, config, gripper_path, out_dir, "heap", progress, record)
    finally:
        if client is not None:
            client.close()
    manifest = build_manifest(config, gripper_path, objects, entries, heap_entries)
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
    heaps = counts.get("by_kind", {}).get("heap")
    if heaps:
        lines.append(f"heaps: {heaps['scenes']} scenes, {heaps['datapoints']} datapoints "
                     f"({100 * counts['heap_fraction']:.1f}% of all), {heaps['positives']} positive")
    for split, c in counts["by_split"].items():
        lines.append(f"  {split:5s}: {c['objects']} objects, {c.get('heaps', 0)} heaps, {c['datapoints']} "
                     f"datapoints, {c['positives']} positive")
    reasons: dict[str, int] = {}
    for record in manifest["objects"]:
        if record["status"] == "skipped":
            reasons[record["reason"]] = reasons.get(record["reason"], 0) + 1
    for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1])[:5]:
        lines.append(f"  skipped x{n}: {reason}")
    return lines


def run_cli(args: argparse.Namespace) -> int:
    config = GenerationConfig.from_yaml(args.config, seed=args.seed, images_per_pose=args.images_per_pose,
                                        max_grasps=args.max_grasps, heaps_per_object=args.heaps_per_object)
    if not Path(args.gripper).is_file():
        raise FileNotFoundError(f"gripper file {args.gripper} does not exist")
    objects = list_objects(not args.no_pybullet, args.mesh_dir, args.max_objects)
    if args.split:  # e.g. a test set of another distribution for the same held-out objects
        objects = [obj for obj in objects if obj.split == args.split]
    manifest = generate(Path(args.out), config, objects, str(args.gripper), args.workers, args.scheduler,
                        args.resume)
    run = manifest.pop("_run")
    rate = run["new_datapoints"] / run["seconds"] if run["seconds"] > 0 else 0.0
    print(f"generated {run['new_datapoints']} datapoints ({run['new_objects']} new objects, then heaps) in "
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
    p.add_argument("--split", choices=dataset.SPLITS, help="only the objects of this split (ids and split unchanged)")
    p.add_argument("--seed", type=int)
    p.add_argument("--images-per-pose", type=int)
    p.add_argument("--max-grasps", type=int)
    p.add_argument("--heaps-per-object", type=float, help="heap scenes per usable object (0: no heaps)")
    p.add_argument("--workers", type=int, default=2, help="local worker processes (ignored with --scheduler)")
    p.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786")
    p.add_argument("--resume", action="store_true", help="finish an interrupted run in --out")
    p.set_defaults(func=run_cli)
