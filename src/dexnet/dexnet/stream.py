"""Training data streamed from a dataset's shards: split sizes, shuffled epoch batches, statistics.

Each epoch visits the training shards in a seeded random order; consecutive shards are grouped into windows
of at least `buffer` datapoints whose rows are shuffled together, and batches are consecutive slices of that
stream. Only one window (plus the next, prefetched by a thread) is in memory. Because the stream depends only
on (seed, epoch) and the shard sizes in the manifest, a resumed run can skip to any batch without reading
the skipped shards.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dexnet import dataset
from dexnet.network import CROP_SIZE

TRAIN_FIELDS = ("crops", "gripper_depth", "robust_eq", "collision", "executed")


@dataclass(frozen=True)
class SplitShards:
    """Shard files of one split with their datapoint counts from the manifest."""

    paths: tuple[Path, ...]
    counts: tuple[int, ...]

    @classmethod
    def of(cls, dataset_dir: Path, split: str) -> SplitShards:
        """The shards of `split` (`dataset.split_shards`: object id order) and their sizes from the manifest."""
        manifest = dataset.load_manifest(dataset_dir)
        by_path = {str(Path(dataset_dir) / o["shard"]): int(o["count"]) for o in manifest["objects"] if o.get("shard")}
        paths = dataset.split_shards(dataset_dir, split)
        return cls(tuple(paths), tuple(by_path[str(p)] for p in paths))

    @property
    def total(self) -> int:
        return sum(self.counts)

    def subset(self, seed: int, max_rows: int) -> SplitShards:
        """A fixed seeded subset of whole shards with about `max_rows` datapoints (all when max_rows is 0)."""
        if max_rows <= 0 or self.total <= max_rows:
            return self
        order = np.random.default_rng([seed, 11]).permutation(len(self.paths))
        chosen, rows = [], 0
        for index in order:
            if rows >= max_rows:
                break
            chosen.append(index)
            rows += self.counts[index]
        chosen.sort()
        return SplitShards(tuple(self.paths[i] for i in chosen), tuple(self.counts[i] for i in chosen))


def load_rows(path: Path, expected: int | None = None, fields: tuple[str, ...] = TRAIN_FIELDS) -> dict[str, np.ndarray]:
    """Read one shard's fields, checking its size against the manifest and its crop size.

    Any unreadable shard (truncated or corrupt zip, missing field) raises ValueError naming the file.
    """
    try:
        arrays = dataset.read_shard(path, fields)
    except Exception as err:  # zipfile.BadZipFile, EOFError, zlib.error, OSError, KeyError: all "unreadable"
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ValueError(f"{path}: unreadable shard ({reason}); regenerate it (dexnet generate --resume)") from err
    crops = arrays["crops"]
    if crops.ndim != 3 or crops.shape[1:] != (CROP_SIZE, CROP_SIZE):
        raise ValueError(f"{path}: crops have shape {crops.shape[1:]}, the network takes {CROP_SIZE}x{CROP_SIZE}")
    if expected is not None and len(crops) != expected:
        raise ValueError(f"{path}: {len(crops)} datapoints but the manifest says {expected} (dataset changed?)")
    return arrays


def epoch_windows(counts: tuple[int, ...], seed: int, epoch: int, buffer: int) -> list[np.ndarray]:
    """Shard indices per shuffle window for one epoch: a seeded shard order cut into >= `buffer`-row groups."""
    order = np.random.default_rng([seed, epoch, 0]).permutation(len(counts))
    windows, current, rows = [], [], 0
    for index in order:
        current.append(index)
        rows += counts[index]
        if rows >= buffer:
            windows.append(np.array(current))
            current, rows = [], 0
    if current:
        windows.append(np.array(current))
    return windows


def iter_epoch_batches(
    shards: SplitShards, seed: int, epoch: int, batch_size: int, buffer: int, start_batch: int = 0
) -> Iterator[dict[str, np.ndarray]]:
    """Batches {crops (B,32,32), gripper_depth (B,), labels (B,) bool} of one epoch from batch `start_batch` on.

    The epoch has total // batch_size batches (the remainder is dropped). Shards before the start are not read.
    """
    windows = epoch_windows(shards.counts, seed, epoch, buffer)
    window_rows = [sum(shards.counts[i] for i in w) for w in windows]
    skip = start_batch * batch_size
    first = 0
    while first < len(windows) and skip >= window_rows[first]:
        skip -= window_rows[first]
        first += 1
    batches_left = shards.total // batch_size - start_batch

    def load(w: int) -> dict[str, np.ndarray]:
        parts = [load_rows(shards.paths[i], shards.counts[i]) for i in windows[w]]
        rows = {k: np.concatenate([p[k] for p in parts]) for k in TRAIN_FIELDS}
        perm = np.random.default_rng([seed, epoch, 1, w]).permutation(len(rows["crops"]))
        return {
            "crops": rows["crops"][perm],
            "gripper_depth": rows["gripper_depth"][perm],
            "labels": dataset.shard_labels(rows)[perm],
        }

    pending: dict[str, np.ndarray] | None = None
    # One background thread reads (decompresses) the next window while the current one trains.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="shard-prefetch") as pool:
        future = pool.submit(load, first) if first < len(windows) else None
        for w in range(first, len(windows)):
            rows = future.result()
            future = pool.submit(load, w + 1) if w + 1 < len(windows) else None
            if w == first and skip:
                rows = {k: v[skip:] for k, v in rows.items()}
            pending = rows if pending is None else {k: np.concatenate([pending[k], rows[k]]) for k in rows}
            start = 0
            while len(pending["crops"]) - start >= batch_size and batches_left > 0:
                yield {k: v[start : start + batch_size] for k, v in pending.items()}
                start += batch_size
                batches_left -= 1
            pending = {k: v[start:] for k, v in pending.items()}
            if batches_left == 0:
                if future is not None:
                    future.cancel()
                return


def training_statistics(shards: SplitShards, seed: int, max_rows: int) -> dict[str, float]:
    """Crop and gripper-depth mean/std (metres) and positive rate from a seeded sample of training shards."""
    order = np.random.default_rng([seed, 7]).permutation(len(shards.paths))
    crop_sum = crop_sq = depth_sum = depth_sq = 0.0
    pixels = rows = positives = 0
    for index in order:
        arrays = load_rows(shards.paths[index], shards.counts[index])
        crops = arrays["crops"].astype(np.float64)
        depth = arrays["gripper_depth"].astype(np.float64)
        crop_sum, crop_sq, pixels = crop_sum + crops.sum(), crop_sq + np.square(crops).sum(), pixels + crops.size
        depth_sum, depth_sq, rows = depth_sum + depth.sum(), depth_sq + np.square(depth).sum(), rows + len(depth)
        positives += int(dataset.shard_labels(arrays).sum())
        if rows >= max_rows:
            break
    if rows == 0:
        raise ValueError("the training split has no datapoints")
    # Plain floats: numpy scalars would not pass torch.load(weights_only=True) in checkpoints.
    crop_mean, depth_mean = float(crop_sum / pixels), float(depth_sum / rows)
    return {
        "crop_mean": crop_mean,
        "crop_std": math.sqrt(max(float(crop_sq / pixels) - crop_mean**2, 0.0)),
        "depth_mean": depth_mean,
        "depth_std": math.sqrt(max(float(depth_sq / rows) - depth_mean**2, 0.0)),
        "positive_rate": positives / rows,
        "sampled_datapoints": rows,
    }
