"""The Dex-Net dataset on disk: one compressed shard per scene (an object alone, or a heap) plus `manifest.json`.

Layout of a dataset directory:
    manifest.json             config, seed, split, counts, positive rate, camera, code version, per-scene shards
    shards/obj_000123.npz     one object's single-object datapoints (np.savez), written atomically
    shards/heap_000045.npz    one heap's datapoints (format 2); its record in manifest["objects"] has
                              kind "heap", id HEAP_ID_OFFSET + heap id and the ids of the objects it holds
    objects/obj_000123.npz    per-object mesh, grasps and robust quality, reused by the heaps

A shard holds N datapoints, one per (grasp, image) pair, as parallel arrays:
    crops           float32 (N, out, out)  grasp-aligned noise-free depth crops, metres
    gripper_depth   float32 (N,)           gripper depth along the camera z axis, metres
    robust_eq       float32 (N,)           robust Ferrari-Canny epsilon quality of the grasp
    collision       bool    (N,)           gripper collides with object or table on approach
    object_id, stable_pose_id, image_id, grasp_id   int32 (N,) (image and grasp ids within the object)
    center_px       float32 (N, 2)         grasp centre (u, v) in the full rendered image
    angle           float32 (N,)           grasp axis angle in the image, radians
    width           float32 (N,)           contact distance, metres
    width_px        float32 (N,)           contact distance in pixels at the gripper depth
    scene_kind      int8    (N,)           0 = single object, 1 = heap                                (format 2)
    heap_id         int32   (N,)           heap id, -1 for single objects                             (format 2)
    sensor_preset   int8    (N,)           index into gqcnn_core.sensor.SENSOR_PRESETS of the image     (format 2)
    camera_height   float32 (N,)           camera height above the table, metres                     (format 2)
    camera_tilt     float32 (N,)           camera optical axis off vertical, radians                  (format 2)
    executed        int8    (N,)           -1: Dex-Net datapoint; 0 / 1: executed in the sim, failed / held  (format 3)
                                           (`benchmarks.sim_candidates --save-dataset`)

Format-1 and -2 datasets still load: `read_shard` fills the fields they lack with FIELD_DEFAULTS.

Label (`shard_labels`): for an executed grasp its outcome; otherwise Dex-Net's, robust_eq > EQ_THRESHOLD and not
collision (`labels`). Shards are written to a temporary file and
renamed into place, so a shard either exists whole or not at all and a killed run resumes by object.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

FORMAT_VERSION = 3
READABLE_FORMATS = (1, 2, 3)
HEAP_ID_OFFSET = 1_000_000  # heap records' ids in manifest["objects"]: after every object id
EQ_THRESHOLD = 0.002
SPLITS = ("train", "val", "test")
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)
MANIFEST = "manifest.json"
SHARD_DIR = "shards"

FIELDS: dict[str, np.dtype] = {
    "crops": np.dtype(np.float32),
    "gripper_depth": np.dtype(np.float32),
    "robust_eq": np.dtype(np.float32),
    "collision": np.dtype(bool),
    "object_id": np.dtype(np.int32),
    "stable_pose_id": np.dtype(np.int32),
    "image_id": np.dtype(np.int32),
    "grasp_id": np.dtype(np.int32),
    "center_px": np.dtype(np.float32),
    "angle": np.dtype(np.float32),
    "width": np.dtype(np.float32),
    "width_px": np.dtype(np.float32),
    "scene_kind": np.dtype(np.int8),
    "heap_id": np.dtype(np.int32),
    "sensor_preset": np.dtype(np.int8),
    "camera_height": np.dtype(np.float32),
    "camera_tilt": np.dtype(np.float32),
    "executed": np.dtype(np.int8),
}
# Values of later formats' fields for older shards: single objects, ideal sensor, camera not recorded, not executed.
FIELD_DEFAULTS = {"scene_kind": 0, "heap_id": -1, "sensor_preset": 0, "camera_height": np.nan,
                  "camera_tilt": np.nan, "executed": -1}


def labels(robust_eq: np.ndarray, collision: np.ndarray, threshold: float = EQ_THRESHOLD) -> np.ndarray:
    """Dex-Net 2.0 label: robust epsilon quality above threshold and collision-free."""
    return (np.asarray(robust_eq) > threshold) & ~np.asarray(collision, dtype=bool)


def shard_labels(arrays: dict[str, np.ndarray]) -> np.ndarray:
    """Training labels of a shard's rows: the outcome where the grasp was executed, else Dex-Net's label."""
    dexnet_label = labels(arrays["robust_eq"], arrays["collision"])
    executed = np.asarray(arrays.get("executed", np.full(len(dexnet_label), -1)))
    return np.where(executed >= 0, executed == 1, dexnet_label)


def object_split(name: str, fractions: tuple[float, float, float] = SPLIT_FRACTIONS) -> str:
    """Deterministic object-wise split from a hash of the object's name (independent of order and count)."""
    u = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") / 2.0**64
    edges = np.cumsum(fractions)
    return SPLITS[min(int(np.searchsorted(edges, u, side="right")), len(SPLITS) - 1)]


def shard_name(object_id: int) -> str:
    return f"{SHARD_DIR}/obj_{object_id:06d}.npz"


def heap_shard_name(heap_id: int) -> str:
    return f"{SHARD_DIR}/heap_{heap_id:06d}.npz"


def heap_record_id(heap_id: int) -> int:
    return HEAP_ID_OFFSET + heap_id


def empty_shard(out_size: int = 32) -> dict[str, np.ndarray]:
    shapes = {"crops": (0, out_size, out_size), "center_px": (0, 2)}
    return {k: np.zeros(shapes.get(k, (0,)), dtype=dt) for k, dt in FIELDS.items()}


def check_shard(arrays: dict[str, np.ndarray]) -> int:
    """Validate field names, dtypes and lengths; return the number of datapoints."""
    missing = set(FIELDS) - set(arrays)
    if missing:
        raise ValueError(f"shard lacks fields: {sorted(missing)}")
    n = len(arrays["crops"])
    for key, dtype in FIELDS.items():
        if len(arrays[key]) != n:
            raise ValueError(f"shard field '{key}' has {len(arrays[key])} rows, crops has {n}")
        if arrays[key].dtype != dtype:
            raise ValueError(f"shard field '{key}' is {arrays[key].dtype}, expected {dtype}")
    return n


def atomic_write_bytes(path: Path, write) -> None:
    """Write via a temporary file in the same directory, fsync, then rename over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_shard(path: Path, arrays: dict[str, np.ndarray]) -> int:
    """Atomically write one shard; returns its datapoint count."""
    arrays = {k: np.asarray(arrays[k], dtype=FIELDS[k]) for k in FIELDS}
    n = check_shard(arrays)
    # Uncompressed: noisy float crops shrink by only ~25 % and zlib was the largest cost of generating them.
    atomic_write_bytes(Path(path), lambda f: np.savez(f, **arrays))
    return n


def read_shard(path: Path, fields: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """The shard's arrays (all FIELDS by default); fields absent from an older format's shard get FIELD_DEFAULTS."""
    with np.load(path) as data:
        out = {}
        for k in fields or FIELDS:
            if k in data.files or k not in FIELD_DEFAULTS:
                out[k] = data[k]
            else:
                out[k] = np.full(len(data["robust_eq"]), FIELD_DEFAULTS[k], dtype=FIELDS[k])
        return out


def write_manifest(dataset_dir: Path, manifest: dict) -> None:
    text = json.dumps(manifest, indent=1, sort_keys=True).encode()
    atomic_write_bytes(Path(dataset_dir) / MANIFEST, lambda f: f.write(text))


def load_manifest(dataset_dir: Path) -> dict:
    path = Path(dataset_dir) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{dataset_dir}: no {MANIFEST} (not a Dex-Net dataset directory?)")
    manifest = json.loads(path.read_text())
    if manifest.get("format_version") not in READABLE_FORMATS:
        raise ValueError(f"{path}: format_version {manifest.get('format_version')}, expected one of "
                         f"{READABLE_FORMATS}")
    return manifest


def manifest_hash(dataset_dir: Path) -> str:
    """Content hash of the manifest (recorded in model cards to tie a model to its data)."""
    return hashlib.sha256((Path(dataset_dir) / MANIFEST).read_bytes()).hexdigest()[:16]


def split_shards(dataset_dir: Path, split: str) -> list[Path]:
    """Shard files of the scenes (objects, then heaps) in one split ("train", "val" or "test"), in id order."""
    if split not in SPLITS:
        raise ValueError(f"unknown split '{split}', expected one of {', '.join(SPLITS)}")
    manifest = load_manifest(dataset_dir)
    objects = sorted(manifest["objects"], key=lambda o: o["id"])
    return [
        Path(dataset_dir) / o["shard"]
        for o in objects
        if o["split"] == split and o.get("shard") and o.get("count", 0) > 0
    ]


def iter_split(dataset_dir: Path, split: str, fields: tuple[str, ...] | None = None) -> Iterator[dict[str, np.ndarray]]:
    """Yield the shards of a split one at a time (the dataset need not fit in memory)."""
    for path in split_shards(dataset_dir, split):
        yield read_shard(path, fields)
