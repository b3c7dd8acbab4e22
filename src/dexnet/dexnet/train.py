"""`dexnet train`: fit a GQ-CNN to a Dex-Net dataset, streaming shards from disk, resumable after a kill.

Data: the object-wise split of the manifest (train on "train", validate on "val"), labels from
`dataset.labels`. Each epoch visits the training shards in a seeded random order; consecutive shards are
grouped into windows of at least `shuffle_buffer` datapoints whose rows are shuffled together, and batches
are consecutive slices of that stream. Only one window (plus the next, prefetched by a thread) is in memory.
Because the stream depends only on (seed, epoch) and the shard sizes in the manifest, a resumed run can
skip to any batch without reading the skipped shards.

Optimisation follows Dex-Net 2.0 (gqcnn cfg/train_dex-net_2.0.yaml): SGD, momentum 0.9, base learning
rate 0.01 decayed by 0.95 every 0.66 epochs (staircase), L2 weight decay 5e-4 on weights (not biases),
batch 64, online augmentation (`dexnet.augment`).

Class balance: the loss is class-weighted cross-entropy, each class weighted by 1 / (2 * its training
rate), so successes and failures contribute equally whatever the positive rate (~20% in Dex-Net 2.0).
The network's `prior_log_odds` then restores calibrated probabilities at prediction time (see network.py).
`--class-balance none` trains on the plain loss instead.

Determinism: weights are initialised from the seed, the data order is a function of (seed, epoch) and the
augmentation of (seed, step), and the learning rate of the step; a checkpoint stores weights, optimizer
momentum, step and metric accumulators, so a resumed run continues exactly where the checkpoint left off.

Run directory:
    config.json        training + network config, dataset path and manifest hash, crop transform
    checkpoint.pt      latest full training state (written atomically every --checkpoint-every steps,
                       after each validation and on Ctrl-C)
    model_best.pt      weights with the best validation accuracy so far
    model_final.pt     weights at the end of training
    metrics.csv        one row per validation: step, epoch, lr, train loss/accuracy, val metrics, time
    summary.json       final metrics and run facts
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from dexnet import dataset
from dexnet.augment import AugmentConfig, augment_crops
from dexnet.network import (
    CROP_SIZE,
    DEFAULT_PRESET,
    PRESETS,
    GQCNNNet,
    NetworkConfig,
    load_weights,
    preset,
    save_weights,
)

CONFIG_FILE = "config.json"
CHECKPOINT_FILE = "checkpoint.pt"
BEST_FILE = "model_best.pt"
FINAL_FILE = "model_final.pt"
METRICS_FILE = "metrics.csv"
SUMMARY_FILE = "summary.json"
CHECKPOINT_FORMAT = "dexnet-gqcnn-checkpoint-v1"
TRAIN_FIELDS = ("crops", "gripper_depth", "robust_eq", "collision")
METRICS_COLUMNS = (
    "step",
    "epoch",
    "lr",
    "train_loss",
    "train_accuracy",
    "val_loss",
    "val_accuracy",
    "val_balanced_accuracy",
    "val_auc",
    "elapsed_s",
)
CLASS_BALANCE_MODES = ("weighted", "none")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run (saved to config.json; machine-specific knobs are not)."""

    preset: str = DEFAULT_PRESET
    epochs: int = 25
    steps: int | None = None  # total optimisation steps; overrides epochs when set
    batch_size: int = 64
    base_lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 0.0005
    lr_decay_rate: float = 0.95
    lr_decay_epochs: float = 0.66
    class_balance: str = "weighted"
    augment: bool = True
    shuffle_buffer: int = 50_000  # datapoints shuffled together (~200 MB of crops)
    checkpoint_every: int = 1000  # steps
    eval_every: int | None = None  # steps; None = once per epoch
    val_max: int = 100_000  # validation datapoints per evaluation (a fixed seeded subset); 0 = all
    stats_max: int = 200_000  # training datapoints sampled for the normalisation statistics
    seed: int = 24098

    def __post_init__(self) -> None:
        preset(self.preset)  # raises for unknown names
        if self.class_balance not in CLASS_BALANCE_MODES:
            raise ValueError(f"class balance must be one of {', '.join(CLASS_BALANCE_MODES)}, not {self.class_balance}")
        positive = {
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "shuffle_buffer": self.shuffle_buffer,
            "checkpoint_every": self.checkpoint_every,
            "stats_max": self.stats_max,
        }
        for name, value in positive.items():
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        for name in ("steps", "eval_every"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        if self.base_lr <= 0 or not 0 < self.lr_decay_rate <= 1 or self.lr_decay_epochs <= 0:
            raise ValueError("learning rate, decay rate (0, 1] and decay interval must be positive")

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


@dataclass(frozen=True)
class SplitShards:
    """Shard files of one split with their datapoint counts from the manifest."""

    paths: tuple[Path, ...]
    counts: tuple[int, ...]

    @property
    def total(self) -> int:
        return sum(self.counts)


def split_shards(dataset_dir: Path, split: str) -> SplitShards:
    """The shards of `split` (object id order) and their sizes, from the manifest."""
    manifest = dataset.load_manifest(dataset_dir)
    by_path = {str(Path(dataset_dir) / o["shard"]): int(o["count"]) for o in manifest["objects"] if o.get("shard")}
    paths = dataset.split_shards(dataset_dir, split)
    return SplitShards(tuple(paths), tuple(by_path[str(p)] for p in paths))


def dataset_crop_info(manifest: dict) -> dict:
    """Crop window, output size and transform version the dataset's crops were cut with."""
    from gqcnn_core.crop import CROP_TRANSFORM_VERSION, CropSpec

    crop = manifest.get("crop", {})
    default = CropSpec()
    return {
        "window_px": int(crop.get("crop_size", default.crop_size)),
        "out_px": int(crop.get("out_size", default.out_size)),
        "transform_version": str(crop.get("transform_version", CROP_TRANSFORM_VERSION)),
        "source": "manifest" if crop else "default (manifest has no 'crop' entry)",
    }


def load_rows(path: Path, expected: int | None = None, fields: tuple[str, ...] = TRAIN_FIELDS) -> dict[str, np.ndarray]:
    """Read one shard's training fields, checking its size against the manifest and its crop size."""
    try:
        arrays = dataset.read_shard(path, fields)
    except (OSError, KeyError, ValueError) as err:
        raise ValueError(f"{path}: unreadable shard ({err})") from err
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
            "labels": dataset.labels(rows["robust_eq"][perm], rows["collision"][perm]),
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
        positives += int(dataset.labels(arrays["robust_eq"], arrays["collision"]).sum())
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


def learning_rate(config: TrainConfig, step: int, steps_per_epoch: int) -> float:
    """Staircase exponential decay: base_lr * rate ** floor(step / (decay_epochs * steps_per_epoch))."""
    decay_steps = max(1, round(config.lr_decay_epochs * steps_per_epoch))
    return config.base_lr * config.lr_decay_rate ** (step // decay_steps)


def class_weights(positive_rate: float, mode: str) -> torch.Tensor:
    """Loss weights (failure, success): each class weighted by 1 / (2 * rate) so both count equally."""
    if mode == "none":
        return torch.ones(2)
    return torch.tensor([0.5 / (1.0 - positive_rate), 0.5 / positive_rate], dtype=torch.float32)


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.SGD:
    # Weight decay on weights only: decaying biases just fights the data (as in the reference, which
    # regularises weights).
    decay = [p for name, p in model.named_parameters() if not name.endswith("bias")]
    no_decay = [p for name, p in model.named_parameters() if name.endswith("bias")]
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.SGD(groups, lr=config.base_lr, momentum=config.momentum)


@torch.no_grad()
def predict_probabilities(model: GQCNNNet, crops: np.ndarray, depths: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Calibrated P(success) (N,) of a torch GQ-CNN for crops (N,32,32) and gripper depths (N,), metres."""
    model.eval()
    out = np.empty(len(crops), dtype=np.float32)
    for start in range(0, len(crops), batch_size):
        c = torch.from_numpy(np.ascontiguousarray(crops[start : start + batch_size], dtype=np.float32))
        d = torch.from_numpy(np.ascontiguousarray(depths[start : start + batch_size], dtype=np.float32))
        out[start : start + batch_size] = model.success_probability(c[:, None], d[:, None]).numpy()
    return out


def validation_subset(shards: SplitShards, seed: int, max_rows: int) -> SplitShards:
    """A fixed seeded subset of whole shards with about `max_rows` datapoints (all when max_rows is 0)."""
    if max_rows <= 0 or shards.total <= max_rows:
        return shards
    order = np.random.default_rng([seed, 11]).permutation(len(shards.paths))
    chosen, rows = [], 0
    for index in order:
        if rows >= max_rows:
            break
        chosen.append(index)
        rows += shards.counts[index]
    chosen.sort()
    return SplitShards(tuple(shards.paths[i] for i in chosen), tuple(shards.counts[i] for i in chosen))


def validate(model: GQCNNNet, shards: SplitShards) -> dict[str, float]:
    """Log loss, accuracy (q > 0.5), balanced accuracy and AUC of calibrated P(success) on whole shards."""
    from sklearn.metrics import roc_auc_score

    probs, labels = [], []
    for path, count in zip(shards.paths, shards.counts, strict=True):
        arrays = load_rows(path, count)
        probs.append(predict_probabilities(model, arrays["crops"], arrays["gripper_depth"]))
        labels.append(dataset.labels(arrays["robust_eq"], arrays["collision"]))
    p = np.clip(np.concatenate(probs).astype(np.float64), 1e-7, 1 - 1e-7)
    y = np.concatenate(labels)
    predicted = p > 0.5
    recalls = [np.mean(predicted[y == c] == c) for c in (False, True) if np.any(y == c)]
    both = 0 < y.sum() < len(y)
    return {
        "val_loss": float(-np.mean(np.where(y, np.log(p), np.log(1 - p)))),
        "val_accuracy": float(np.mean(predicted == y)),
        "val_balanced_accuracy": float(np.mean(recalls)),
        "val_auc": float(roc_auc_score(y, p)) if both else float("nan"),
    }


def atomic_torch_save(path: Path, payload: dict) -> None:
    buffer = io.BytesIO()
    torch.save(payload, buffer)  # serialise first so a failure leaves no partial temp file behind
    dataset.atomic_write_bytes(Path(path), lambda f: f.write(buffer.getvalue()))


def write_json(path: Path, payload: dict) -> None:
    text = json.dumps(payload, indent=1, sort_keys=True, default=str).encode()
    dataset.atomic_write_bytes(Path(path), lambda f: f.write(text))


def read_metrics(run_dir: Path) -> list[dict[str, float]]:
    """Rows of metrics.csv as numbers: step an int, the rest floats (empty cells become NaN)."""
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        rows = [
            {k: float(v) if v not in ("", None) else float("nan") for k, v in row.items()} for row in csv.DictReader(f)
        ]
    for row in rows:
        row["step"] = int(row["step"])
    return rows


def write_metrics(run_dir: Path, rows: list[dict[str, float]]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=METRICS_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()})
    dataset.atomic_write_bytes(Path(run_dir) / METRICS_FILE, lambda f: f.write(buffer.getvalue().encode()))


class StopRequest:
    """Turns the first Ctrl-C into a flag checked between steps (so the checkpoint is consistent);
    a second Ctrl-C interrupts at once."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = None

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        self.requested = True
        signal.signal(signal.SIGINT, self._previous or signal.default_int_handler)

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def _new_run_config(dataset_dir: Path, config: TrainConfig, manifest: dict) -> dict:
    from gqcnn_core.crop import CROP_TRANSFORM_VERSION

    crop = dataset_crop_info(manifest)
    if crop["out_px"] != CROP_SIZE:
        raise ValueError(f"dataset crops are {crop['out_px']} px, the GQ-CNN takes {CROP_SIZE} px")
    if crop["transform_version"] != CROP_TRANSFORM_VERSION:
        raise ValueError(
            f"dataset crops were cut with transform '{crop['transform_version']}' but this code cuts "
            f"'{CROP_TRANSFORM_VERSION}': regenerate the dataset"
        )
    return {
        "train": asdict(config),
        "network": preset(config.preset).to_dict(),
        "augment": AugmentConfig().to_dict(),
        "dataset": str(Path(dataset_dir).resolve()),
        "manifest_hash": dataset.manifest_hash(dataset_dir),
        "dataset_code_version": manifest.get("code_version"),
        "crop": crop,
        "torch_version": torch.__version__,
    }


def load_run_config(run_dir: Path) -> dict:
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir}: no {CONFIG_FILE} (not a training run directory?)")
    return json.loads(path.read_text())


def train(
    dataset_dir: Path,
    run_dir: Path,
    config: TrainConfig = TrainConfig(),
    resume: bool = False,
    progress: bool = True,
    on_step: Callable[[int], None] | None = None,
) -> dict:
    """Train (or resume) a GQ-CNN run in `run_dir`; returns the summary (also written to summary.json).

    `on_step(step)` is called after each completed optimisation step (1-based count), for tests and hooks.
    Ctrl-C saves a checkpoint after the current step and re-raises KeyboardInterrupt.
    """
    dataset_dir, run_dir = Path(dataset_dir), Path(run_dir)
    manifest = dataset.load_manifest(dataset_dir)
    checkpoint_path = run_dir / CHECKPOINT_FILE
    if resume:
        if not (run_dir / CONFIG_FILE).is_file():
            raise FileNotFoundError(f"{run_dir}: no training run to resume ({CONFIG_FILE} missing)")
        run_config = load_run_config(run_dir)
        if run_config["manifest_hash"] != dataset.manifest_hash(dataset_dir):
            raise ValueError(f"{dataset_dir} is not the dataset this run was started on (manifest hash differs)")
        saved = TrainConfig.from_dict(run_config["train"])
        length_only = ("epochs", "steps")
        if replace(config, epochs=saved.epochs, steps=saved.steps) != saved:
            changed = [
                f.name
                for f in fields(TrainConfig)
                if f.name not in length_only and getattr(config, f.name) != getattr(saved, f.name)
            ]
            raise ValueError(f"resuming needs the run's own settings; these differ: {', '.join(changed)}")
        if (config.epochs, config.steps) != (saved.epochs, saved.steps):  # a longer (or shorter) run: record it
            run_config["train"] = {**run_config["train"], "epochs": config.epochs, "steps": config.steps}
            write_json(run_dir / CONFIG_FILE, run_config)
    else:
        if (run_dir / CONFIG_FILE).exists() or checkpoint_path.exists():
            raise ValueError(
                f"{run_dir} already holds a training run: pass --resume to continue it or choose another --out"
            )
        run_config = _new_run_config(dataset_dir, config, manifest)

    train_shards = split_shards(dataset_dir, "train")
    if train_shards.total < config.batch_size:
        raise ValueError(
            f"the training split has {train_shards.total} datapoints, fewer than one batch ({config.batch_size})"
        )
    val_shards = validation_subset(split_shards(dataset_dir, "val"), config.seed, config.val_max)
    steps_per_epoch = train_shards.total // config.batch_size
    total_steps = config.steps or config.epochs * steps_per_epoch
    eval_every = config.eval_every or steps_per_epoch
    torch.manual_seed(config.seed)
    model = GQCNNNet(NetworkConfig.from_dict(run_config["network"]))

    # A run killed before its first checkpoint restarts from step 0 with its saved settings.
    state = None
    if resume and checkpoint_path.is_file():
        try:
            state = torch.load(checkpoint_path, map_location="cpu", weights_only=True)
        except Exception as err:  # torch raises assorted types for unreadable files
            raise ValueError(f"{checkpoint_path}: unreadable checkpoint ({type(err).__name__})") from err
        if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"{checkpoint_path}: not a GQ-CNN training checkpoint")
        model.load_state_dict(state["model"])
        stats = state["statistics"]
    else:
        run_dir.mkdir(parents=True, exist_ok=True)
        stats = training_statistics(train_shards, config.seed, config.stats_max)
        if not 0.0 < stats["positive_rate"] < 1.0:
            raise ValueError(
                f"the sampled training data has positive rate {stats['positive_rate']:.3f}: need both classes"
            )
        model.set_normalization(stats["crop_mean"], stats["crop_std"], stats["depth_mean"], stats["depth_std"])
        if config.class_balance == "weighted":
            model.prior_log_odds.fill_(math.log(stats["positive_rate"] / (1.0 - stats["positive_rate"])))
        run_config["statistics"] = stats
        write_json(run_dir / CONFIG_FILE, run_config)
        write_metrics(run_dir, [])

    optimizer = make_optimizer(model, config)
    weights = class_weights(stats["positive_rate"], config.class_balance)
    loss_fn = nn.CrossEntropyLoss(weight=weights)
    step, elapsed_before = 0, 0.0
    interval = {"loss_sum": 0.0, "correct": 0, "seen": 0}
    best = {"step": -1, "val_accuracy": -1.0}
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
        step, elapsed_before = int(state["step"]), float(state["elapsed_s"])
        interval, best = dict(state["interval"]), dict(state["best"])
        # Drop metric rows a killed run wrote after its last checkpoint; they will be recomputed identically.
        write_metrics(run_dir, [r for r in read_metrics(run_dir) if r["step"] <= step])
    augment_config = AugmentConfig(**run_config.get("augment", {}))
    started = time.perf_counter()

    def elapsed() -> float:
        return elapsed_before + time.perf_counter() - started

    def save_checkpoint() -> None:
        payload = {
            "format": CHECKPOINT_FORMAT,
            "step": step,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "statistics": stats,
            "interval": interval,
            "best": best,
            "elapsed_s": elapsed(),
        }
        atomic_torch_save(checkpoint_path, payload)

    def evaluate_and_log() -> dict[str, float]:
        nonlocal interval
        row = {c: float("nan") for c in METRICS_COLUMNS}
        row.update(step=step, epoch=step / steps_per_epoch, lr=learning_rate(config, step - 1, steps_per_epoch))
        if interval["seen"]:
            row["train_loss"] = interval["loss_sum"] / interval["seen"]
            row["train_accuracy"] = interval["correct"] / interval["seen"]
        if val_shards.paths:
            row.update(validate(model, val_shards))
            model.train()
            if row["val_accuracy"] > best["val_accuracy"]:
                best.update(step=step, val_accuracy=row["val_accuracy"])
                save_weights(run_dir / BEST_FILE, model, step=step, val_accuracy=row["val_accuracy"])
        row["elapsed_s"] = elapsed()
        write_metrics(run_dir, [*read_metrics(run_dir), row])
        interval = {"loss_sum": 0.0, "correct": 0, "seen": 0}
        return row

    model.train()
    bar = tqdm(total=total_steps, initial=step, unit="step", desc="train", disable=not progress, dynamic_ncols=True)
    smoothed: dict[str, float] = {}
    last_row: dict[str, float] = {}
    with StopRequest() as stop:
        while step < total_steps:
            epoch, batch_in_epoch = divmod(step, steps_per_epoch)
            batches = iter_epoch_batches(
                train_shards, config.seed, epoch, config.batch_size, config.shuffle_buffer, batch_in_epoch
            )
            for batch in batches:
                crops = batch["crops"]
                if config.augment:
                    crops = augment_crops(crops, np.random.default_rng([config.seed, step, 2]), augment_config)
                labels = torch.from_numpy(batch["labels"].astype(np.int64))
                for group in optimizer.param_groups:
                    group["lr"] = learning_rate(config, step, steps_per_epoch)
                logits = model(torch.from_numpy(crops)[:, None], torch.from_numpy(batch["gripper_depth"])[:, None])
                loss = loss_fn(logits, labels)
                if not torch.isfinite(loss):
                    # Diverged: stop before the weights are spoiled; the last checkpoint stays usable.
                    bar.close()
                    raise ValueError(
                        f"training diverged (loss {loss.item()}) at step {step + 1}; lower --lr "
                        f"(now {config.base_lr}) and start a new run"
                    )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                step += 1

                with torch.no_grad():
                    predicted = (logits[:, 1] - logits[:, 0] + model.prior_log_odds) > 0
                    correct = int((predicted == labels.bool()).sum())
                interval["loss_sum"] += loss.item() * len(labels)
                interval["correct"] += correct
                interval["seen"] += len(labels)
                for key, value in (("loss", loss.item()), ("acc", correct / len(labels))):
                    smoothed[key] = value if key not in smoothed else 0.95 * smoothed[key] + 0.05 * value
                bar.set_postfix(loss=f"{smoothed['loss']:.3f}", acc=f"{smoothed['acc']:.3f}", refresh=False)
                bar.update()

                evaluated = step % eval_every == 0 or step == total_steps
                if evaluated:
                    last_row = evaluate_and_log()
                    if progress and not math.isnan(last_row["val_accuracy"]):
                        bar.write(
                            f"step {step}: val accuracy {last_row['val_accuracy']:.4f}, "
                            f"AUC {last_row['val_auc']:.4f}, loss {last_row['val_loss']:.4f}"
                        )
                if on_step is not None:
                    on_step(step)
                stopping = stop.requested  # read once: a Ctrl-C between save and raise must not skip the save
                if evaluated or step % config.checkpoint_every == 0 or stopping:
                    save_checkpoint()
                if stopping:
                    bar.close()
                    raise KeyboardInterrupt
                if step >= total_steps:
                    batches.close()
                    break
    bar.close()

    save_weights(run_dir / FINAL_FILE, model, step=step)
    if best["step"] < 0:  # no validation split: the final weights are the best we know
        save_weights(run_dir / BEST_FILE, model, step=step)
    rows = read_metrics(run_dir)
    last_row = rows[-1] if rows else last_row
    seen = step * config.batch_size
    summary = {
        "steps": step,
        "epochs": step / steps_per_epoch,
        "steps_per_epoch": steps_per_epoch,
        "train_datapoints": train_shards.total,
        "val_datapoints": val_shards.total,
        "final": {k: last_row.get(k) for k in METRICS_COLUMNS},
        "best": best,
        "elapsed_s": elapsed(),
        "train_crops_per_s": seen / elapsed() if elapsed() > 0 else None,
        "preset": config.preset,
        "class_balance": config.class_balance,
        "statistics": stats,
        "manifest_hash": run_config["manifest_hash"],
    }
    write_json(run_dir / SUMMARY_FILE, summary)
    return summary


def load_run_model(run_dir: Path, weights: str = "best") -> tuple[GQCNNNet, dict]:
    """The network of a run ("best", "final" or "checkpoint" weights) in eval mode, and info about it."""
    run_dir = Path(run_dir)
    run_config = load_run_config(run_dir)
    if weights == "checkpoint":
        path = run_dir / CHECKPOINT_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{run_dir}: no {CHECKPOINT_FILE}")
        state = torch.load(path, map_location="cpu", weights_only=True)
        model = GQCNNNet(NetworkConfig.from_dict(run_config["network"]))
        model.load_state_dict(state["model"])
        return model.eval(), {"weights": str(path), "step": int(state["step"])}
    names = {"best": (BEST_FILE, FINAL_FILE), "final": (FINAL_FILE,)}
    if weights not in names:
        raise ValueError(f"unknown weights '{weights}', expected best, final or checkpoint")
    for name in names[weights]:
        if (run_dir / name).is_file():
            model, info = load_weights(run_dir / name)
            return model, {"weights": str(run_dir / name), **info}
    raise FileNotFoundError(
        f"{run_dir}: no {names[weights][0]} (training not finished? use --weights checkpoint for the latest state)"
    )


def register_cli(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train", help="train a GQ-CNN on a dataset", description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path, help="dataset directory (with manifest.json)")
    parser.add_argument("--out", type=Path, required=True, help="run directory (created)")
    parser.add_argument("--preset", choices=sorted(PRESETS), help=f"network layout (default {DEFAULT_PRESET})")
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=int, help="passes over the training split (default 25)")
    length.add_argument("--steps", type=int, help="total optimisation steps (instead of --epochs)")
    parser.add_argument("--batch-size", type=int, help="datapoints per step (default 64)")
    parser.add_argument("--lr", type=float, dest="base_lr", help="base learning rate (default 0.01)")
    parser.add_argument("--class-balance", choices=CLASS_BALANCE_MODES, help="loss weighting (default weighted)")
    parser.add_argument("--no-augment", dest="augment", action="store_false", default=None, help="no online noise")
    parser.add_argument("--shuffle-buffer", type=int, help="datapoints shuffled together (default 50000)")
    parser.add_argument("--checkpoint-every", type=int, help="steps between checkpoints (default 1000)")
    parser.add_argument("--eval-every", type=int, help="steps between validations (default: each epoch)")
    parser.add_argument("--val-max", type=int, help="validation datapoints per evaluation, 0 = all (default 100000)")
    parser.add_argument("--seed", type=int, help="random seed (default 24098)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    parser.set_defaults(func=run_cli)


def _config_from_args(args: argparse.Namespace) -> TrainConfig:
    """New-run config from flags, or for --resume the saved one (flags may only extend its length)."""
    given = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if getattr(args, f.name, None) is not None}
    if not args.resume:
        return TrainConfig(**given)
    saved = TrainConfig.from_dict(load_run_config(args.out)["train"])
    length = {k: given.pop(k) for k in ("epochs", "steps") if k in given}
    conflicts = [k for k, v in given.items() if getattr(saved, k) != v]
    if conflicts:
        flags = ", ".join(f"--{k.replace('_', '-')} {getattr(saved, k)}" for k in conflicts)
        raise ValueError(f"the run was started with {flags}; drop the differing flags or start a new run")
    if "epochs" in length:
        length["steps"] = None
    return replace(saved, **length)


def run_cli(args: argparse.Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    config = _config_from_args(args)
    summary = train(args.dataset, args.out, config, resume=args.resume, progress=args.progress)
    best = summary["best"]
    line = f"trained {summary['steps']} steps ({summary['epochs']:.2f} epochs) in {summary['elapsed_s']:.0f} s"
    if best["step"] >= 0:
        line += f"; best val accuracy {best['val_accuracy']:.4f} at step {best['step']}"
    print(f"{line}; run in {args.out}")
    return 0
