"""The training loop of `dexnet train`: its settings, the optimiser, and the state one step changes.

`Trainer` holds one run's network, optimizer, step and metric accumulators; `run` streams batches
(`dexnet.stream`), validates, keeps the best weights and checkpoints, and turns Ctrl-C into a consistent
checkpoint. Setting a run up (new, resumed or fine-tuned) is `dexnet.train`'s job.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from dexnet import dataset
from dexnet.augment import AugmentConfig, augment_crops
from dexnet.network import DEFAULT_PRESET, GQCNNNet, predict_probabilities, preset, save_weights
from dexnet.run_dir import (
    BEST_FILE,
    CHECKPOINT_FILE,
    CHECKPOINT_FORMAT,
    FINAL_FILE,
    METRICS_COLUMNS,
    SUMMARY_FILE,
    atomic_torch_save,
    read_metrics,
    write_json,
    write_metrics,
)
from dexnet.stream import SplitShards, iter_epoch_batches, load_rows

CLASS_BALANCE_MODES = ("weighted", "none")
# What "best" weights means: accuracy for Dex-Net's labels; AUC for executed grasps (mostly successes, where
# ordering the candidates is the job and accuracy at q > 0.5 says little).
BEST_METRICS = ("val_accuracy", "val_auc")


class TrainingFailedError(RuntimeError):
    """Training stopped for a reason other than bad input (e.g. divergence); the last checkpoint stays usable."""


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
    best_metric: str = "val_accuracy"
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
        if self.best_metric not in BEST_METRICS:
            raise ValueError(f"best metric must be one of {', '.join(BEST_METRICS)}, not {self.best_metric}")
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


def validate(model: GQCNNNet, shards: SplitShards) -> dict[str, float]:
    """Log loss, accuracy (q > 0.5), balanced accuracy and AUC of calibrated P(success) on whole shards."""
    from sklearn.metrics import roc_auc_score

    probs, labels = [], []
    for path, count in zip(shards.paths, shards.counts, strict=True):
        arrays = load_rows(path, count)
        probs.append(predict_probabilities(model, arrays["crops"], arrays["gripper_depth"]))
        labels.append(dataset.shard_labels(arrays))
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


class Trainer:
    """One training run's state (network, optimizer, step, metric accumulators) and the steps that change it."""

    def __init__(self, run_dir: Path, run_config: dict, model: GQCNNNet, stats: dict, train_shards: SplitShards,
                 val_shards: SplitShards) -> None:
        self.run_dir, self.run_config, self.model, self.stats = run_dir, run_config, model, stats
        self.config = TrainConfig.from_dict(run_config["train"])
        self.train_shards, self.val_shards = train_shards, val_shards
        self.steps_per_epoch = train_shards.total // self.config.batch_size
        self.total_steps = self.config.steps or self.config.epochs * self.steps_per_epoch
        self.eval_every = self.config.eval_every or self.steps_per_epoch
        self.optimizer = make_optimizer(model, self.config)
        self.loss_fn = nn.CrossEntropyLoss(weight=class_weights(stats["positive_rate"], self.config.class_balance))
        self.augment = AugmentConfig(**run_config.get("augment", {}))
        self.step, self.elapsed_before = 0, 0.0
        self.interval = {"loss_sum": 0.0, "correct": 0, "seen": 0}
        self.best = {"step": -1, "val_accuracy": -1.0}
        self.started = time.perf_counter()

    def restore(self, state: dict) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.step, self.elapsed_before = int(state["step"]), float(state["elapsed_s"])
        self.interval, self.best = dict(state["interval"]), dict(state["best"])
        # Drop metric rows a killed run wrote after its last checkpoint; they will be recomputed identically.
        write_metrics(self.run_dir, [r for r in read_metrics(self.run_dir) if r["step"] <= self.step])

    def elapsed(self) -> float:
        return self.elapsed_before + time.perf_counter() - self.started

    def save_checkpoint(self) -> None:
        payload = {
            "format": CHECKPOINT_FORMAT,
            "step": self.step,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "statistics": self.stats,
            "interval": self.interval,
            "best": self.best,
            "elapsed_s": self.elapsed(),
        }
        atomic_torch_save(self.run_dir / CHECKPOINT_FILE, payload)

    def train_step(self, batch: dict[str, np.ndarray]) -> tuple[float, float]:
        """One SGD step on a batch; returns (loss, accuracy) of the batch before the update."""
        config = self.config
        crops = batch["crops"]
        if config.augment:
            crops = augment_crops(crops, np.random.default_rng([config.seed, self.step, 2]), self.augment)
        labels = torch.from_numpy(batch["labels"].astype(np.int64))
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate(config, self.step, self.steps_per_epoch)
        logits = self.model(torch.from_numpy(crops)[:, None], torch.from_numpy(batch["gripper_depth"])[:, None])
        loss = self.loss_fn(logits, labels)
        if not torch.isfinite(loss):
            # Diverged: stop before the weights are spoiled; the last checkpoint stays usable.
            raise TrainingFailedError(
                f"training diverged (loss {loss.item()}) at step {self.step + 1}; lower --lr "
                f"(now {config.base_lr}) and start a new run"
            )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.step += 1
        with torch.no_grad():
            predicted = (logits[:, 1] - logits[:, 0] + self.model.prior_log_odds) > 0
            correct = int((predicted == labels.bool()).sum())
        self.interval["loss_sum"] += loss.item() * len(labels)
        self.interval["correct"] += correct
        self.interval["seen"] += len(labels)
        return loss.item(), correct / len(labels)

    def evaluate_and_log(self) -> dict[str, float]:
        """Validate, keep the best weights, append a metrics.csv row and reset the training accumulators."""
        row = {c: float("nan") for c in METRICS_COLUMNS}
        row.update(step=self.step, epoch=self.step / self.steps_per_epoch,
                   lr=learning_rate(self.config, self.step - 1, self.steps_per_epoch))
        if self.interval["seen"]:
            row["train_loss"] = self.interval["loss_sum"] / self.interval["seen"]
            row["train_accuracy"] = self.interval["correct"] / self.interval["seen"]
        if self.val_shards.paths:
            row.update(validate(self.model, self.val_shards))
            self.model.train()
            score = row[self.config.best_metric]
            if np.isnan(score):
                raise ValueError(f"{self.config.best_metric} is undefined: the validation objects' grasps all have "
                                 "one label; pick the best weights by --best-metric val_accuracy")
            if score > self.best.get(self.config.best_metric, -1.0):
                self.best.update(step=self.step, val_accuracy=row["val_accuracy"], val_auc=row["val_auc"])
                save_weights(self.run_dir / BEST_FILE, self.model, step=self.step, val_accuracy=row["val_accuracy"])
        row["elapsed_s"] = self.elapsed()
        write_metrics(self.run_dir, [*read_metrics(self.run_dir), row])
        self.interval = {"loss_sum": 0.0, "correct": 0, "seen": 0}
        return row

    def run(self, progress: bool, on_step: Callable[[int], None] | None) -> None:
        """Train to `total_steps`, validating, checkpointing and honouring Ctrl-C between steps."""
        config = self.config
        self.model.train()
        bar = tqdm(total=self.total_steps, initial=self.step, unit="step", desc="train", disable=not progress,
                   dynamic_ncols=True)
        smoothed: dict[str, float] = {}
        with StopRequest() as stop, bar:
            while self.step < self.total_steps:
                epoch, batch_in_epoch = divmod(self.step, self.steps_per_epoch)
                batches = iter_epoch_batches(self.train_shards, config.seed, epoch, config.batch_size,
                                             config.shuffle_buffer, batch_in_epoch)
                for batch in batches:
                    loss, accuracy = self.train_step(batch)
                    for key, value in (("loss", loss), ("acc", accuracy)):
                        smoothed[key] = value if key not in smoothed else 0.95 * smoothed[key] + 0.05 * value
                    bar.set_postfix(loss=f"{smoothed['loss']:.3f}", acc=f"{smoothed['acc']:.3f}", refresh=False)
                    bar.update()
                    evaluated = self.step % self.eval_every == 0 or self.step == self.total_steps
                    if evaluated:
                        row = self.evaluate_and_log()
                        if progress and not math.isnan(row["val_accuracy"]):
                            bar.write(f"step {self.step}: val accuracy {row['val_accuracy']:.4f}, "
                                      f"AUC {row['val_auc']:.4f}, loss {row['val_loss']:.4f}")
                    if on_step is not None:
                        on_step(self.step)
                    stopping = stop.requested  # read once: a Ctrl-C between save and raise must not skip the save
                    if evaluated or self.step % config.checkpoint_every == 0 or stopping:
                        self.save_checkpoint()
                    if stopping:
                        raise KeyboardInterrupt
                    if self.step >= self.total_steps:
                        batches.close()
                        break

    def finish(self) -> dict:
        """Write the final (and, without validation, best) weights and summary.json; returns the summary."""
        save_weights(self.run_dir / FINAL_FILE, self.model, step=self.step)
        if self.best["step"] < 0:  # no validation split: the final weights are the best we know
            save_weights(self.run_dir / BEST_FILE, self.model, step=self.step)
        rows = read_metrics(self.run_dir)
        last_row = rows[-1] if rows else {}
        elapsed = self.elapsed()
        summary = {
            "steps": self.step,
            "epochs": self.step / self.steps_per_epoch,
            "steps_per_epoch": self.steps_per_epoch,
            "train_datapoints": self.train_shards.total,
            "val_datapoints": self.val_shards.total,
            "final": {k: last_row.get(k) for k in METRICS_COLUMNS},
            "best": self.best,
            "elapsed_s": elapsed,
            "train_crops_per_s": self.step * self.config.batch_size / elapsed if elapsed > 0 else None,
            "preset": self.config.preset,
            "class_balance": self.config.class_balance,
            "statistics": self.stats,
            "manifest_hash": self.run_config["manifest_hash"],
        }
        if "init" in self.run_config:
            summary["init"] = self.run_config["init"]
        write_json(self.run_dir / SUMMARY_FILE, summary)
        return summary
