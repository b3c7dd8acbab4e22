"""`dexnet train`: fit a GQ-CNN to a Dex-Net dataset, streaming shards from disk, resumable after a kill.

Data: the object-wise split of the manifest (train on "train", validate on "val"), labels from
`dataset.labels`, streamed in seeded shuffled batches (`dexnet.stream`).

Optimisation follows Dex-Net 2.0 (gqcnn cfg/train_dex-net_2.0.yaml): SGD, momentum 0.9, base learning
rate 0.01 decayed by 0.95 every 0.66 epochs (staircase), L2 weight decay 5e-4 on weights (not biases),
batch 64, online augmentation (`dexnet.augment`).

Class balance: the loss is class-weighted cross-entropy, each class weighted by 1 / (2 * its training
rate), so successes and failures contribute equally whatever the positive rate (~20% in Dex-Net 2.0).
The network's `prior_log_odds` then restores calibrated probabilities at prediction time (see network.py).
`--class-balance none` trains on the plain loss instead.

Fine-tuning: `--init MODEL_OR_RUN` starts from a run directory's best weights, a weights file or an exported
ONNX model (the shipped one included, `dexnet.warm_start`) instead of random weights; the network layout and
its input normalisation are the initial model's, everything else is a new run on the given dataset.

Determinism: weights are initialised from the seed (or --init), the data order is a function of (seed, epoch)
and the augmentation of (seed, step), and the learning rate of the step; a checkpoint stores weights, optimizer
momentum, step and metric accumulators, so a resumed run continues exactly where the checkpoint left off.
The files of a run directory are described in `dexnet.run_dir`.
"""

from __future__ import annotations

import argparse
import math
import shutil
from collections.abc import Callable
from dataclasses import asdict, fields, replace
from pathlib import Path

import torch

from dexnet import dataset
from dexnet.augment import AugmentConfig
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
from dexnet.run_dir import (
    CHECKPOINT_FILE,
    CONFIG_FILE,
    INIT_FILE,
    dataset_camera_info,
    dataset_crop_info,
    load_checkpoint,
    load_run_config,
    portable_path,
    write_json,
    write_metrics,
)
from dexnet.stream import SplitShards, training_statistics
from dexnet.trainer import BEST_METRICS, CLASS_BALANCE_MODES, TrainConfig, Trainer, TrainingFailedError
from dexnet.warm_start import InitialModel, initial_model

__all__ = ["TrainConfig", "TrainingFailedError", "train"]


def new_run_config(dataset_dir: Path, config: TrainConfig, manifest: dict, network: NetworkConfig) -> dict:
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
        "network": network.to_dict(),
        "augment": AugmentConfig().to_dict(),
        "dataset": str(Path(dataset_dir).resolve()),  # local use (export calibrates on it); cards get dataset_name
        "dataset_name": portable_path(dataset_dir),
        "manifest_hash": dataset.manifest_hash(dataset_dir),
        "dataset_code_version": manifest.get("code_version"),
        "crop": crop,
        "camera": dataset_camera_info(manifest),
        "torch_version": torch.__version__,
    }


def _check_resumable(run_dir: Path, dataset_dir: Path, config: TrainConfig) -> dict:
    """The run config of the run in `run_dir` if `config` may continue it (only its length may differ)."""
    if not (run_dir / CONFIG_FILE).is_file():
        raise FileNotFoundError(f"{run_dir}: no training run to resume ({CONFIG_FILE} missing)")
    run_config = load_run_config(run_dir)
    if run_config["manifest_hash"] != dataset.manifest_hash(dataset_dir):
        raise ValueError(f"{dataset_dir} is not the dataset this run was started on (manifest hash differs)")
    saved = TrainConfig.from_dict(run_config["train"])
    if replace(config, epochs=saved.epochs, steps=saved.steps) != saved:
        changed = [
            f.name
            for f in fields(TrainConfig)
            if f.name not in ("epochs", "steps") and getattr(config, f.name) != getattr(saved, f.name)
        ]
        raise ValueError(f"resuming needs the run's own settings; these differ: {', '.join(changed)}")
    if (config.epochs, config.steps) != (saved.epochs, saved.steps):  # a longer (or shorter) run: record it
        run_config["train"] = {**run_config["train"], "epochs": config.epochs, "steps": config.steps}
        write_json(run_dir / CONFIG_FILE, run_config)
    return run_config


def _start_model(config: TrainConfig, run_config: dict, stats: dict, init: GQCNNNet | None) -> GQCNNNet:
    """Random weights from the seed with the data's normalisation, or the initial model with its own."""
    torch.manual_seed(config.seed)
    model = GQCNNNet(NetworkConfig.from_dict(run_config["network"]))
    if init is not None:
        model.load_state_dict(init.state_dict())  # weights and the normalisation they were trained with
    else:
        model.set_normalization(stats["crop_mean"], stats["crop_std"], stats["depth_mean"], stats["depth_std"])
    log_odds = math.log(stats["positive_rate"] / (1.0 - stats["positive_rate"]))
    model.prior_log_odds.fill_(log_odds if config.class_balance == "weighted" else 0.0)
    return model


def train(
    dataset_dir: Path,
    run_dir: Path,
    config: TrainConfig = TrainConfig(),
    resume: bool = False,
    progress: bool = True,
    on_step: Callable[[int], None] | None = None,
    init: InitialModel | None = None,
) -> dict:
    """Train (or resume) a GQ-CNN run in `run_dir`; returns the summary (also written to summary.json).

    `init` starts a new run from an existing model (`dexnet.warm_start.initial_model`); its layout must be
    `config.preset`'s. `on_step(step)` is called after each completed optimisation step (1-based count), for
    tests and hooks. Ctrl-C saves a checkpoint after the current step and re-raises KeyboardInterrupt.
    Bad input (dataset, shards, settings) raises ValueError/FileNotFoundError before a new run directory exists.
    """
    dataset_dir, run_dir = Path(dataset_dir), Path(run_dir)
    manifest = dataset.load_manifest(dataset_dir)
    if resume and init is not None:
        raise ValueError("--init starts a new run; --resume continues one from its own checkpoint: pass one of them")
    if resume:
        run_config = _check_resumable(run_dir, dataset_dir, config)
    elif (run_dir / CONFIG_FILE).exists() or (run_dir / CHECKPOINT_FILE).exists():
        raise ValueError(
            f"{run_dir} already holds a training run: pass --resume to continue it or choose another --out"
        )
    if init is not None and init.model.config != preset(config.preset):
        raise ValueError(f"{init.info['source']} has the '{init.preset or 'custom'}' network layout, not "
                         f"'{config.preset}': drop --preset (it follows --init)")
    if not resume:
        run_config = new_run_config(dataset_dir, config, manifest, preset(config.preset))
        if init is not None:
            run_config["init"] = init.info

    train_shards = SplitShards.of(dataset_dir, "train")
    if train_shards.total < config.batch_size:
        raise ValueError(
            f"the training split has {train_shards.total} datapoints, fewer than one batch ({config.batch_size})"
        )
    val_shards = SplitShards.of(dataset_dir, "val").subset(config.seed, config.val_max)
    checkpoint = run_dir / CHECKPOINT_FILE
    # A run killed before its first checkpoint restarts from step 0 with its saved settings.
    state = load_checkpoint(checkpoint) if resume and checkpoint.is_file() else None
    created = not run_dir.exists()
    if state is not None:
        stats = state["statistics"]
        model = GQCNNNet(NetworkConfig.from_dict(run_config["network"]))
        model.load_state_dict(state["model"])
    else:
        # Everything that reads the data runs before the run directory is written, so bad data leaves none.
        stats = training_statistics(train_shards, config.seed, config.stats_max)
        if not 0.0 < stats["positive_rate"] < 1.0:
            raise ValueError(
                f"the sampled training data has positive rate {stats['positive_rate']:.3f}: need both classes"
            )
        start = init.model if init is not None else None
        if start is None and resume and "init" in run_config:  # a fine-tuning run killed before its checkpoint
            start = load_weights(run_dir / INIT_FILE)[0]
        model = _start_model(config, run_config, stats, start)
        run_config["statistics"] = stats
        run_dir.mkdir(parents=True, exist_ok=True)
        if init is not None:
            save_weights(run_dir / INIT_FILE, init.model, **init.info)
        write_json(run_dir / CONFIG_FILE, run_config)
        write_metrics(run_dir, [])

    trainer = Trainer(run_dir, run_config, model, stats, train_shards, val_shards)
    if state is not None:
        trainer.restore(state)
    try:
        trainer.run(progress, on_step)
    except ValueError:
        # A shard found unreadable mid-run: a new run that never checkpointed leaves nothing behind.
        if created and not (run_dir / CHECKPOINT_FILE).exists():
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    return trainer.finish()


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
    parser.add_argument("--best-metric", choices=BEST_METRICS,
                        help="validation measure that picks the best weights (default val_accuracy; val_auc for "
                             "executed-grasp datasets)")
    parser.add_argument("--no-augment", dest="augment", action="store_false", default=None, help="no online noise")
    parser.add_argument("--shuffle-buffer", type=int, help="datapoints shuffled together (default 50000)")
    parser.add_argument("--checkpoint-every", type=int, help="steps between checkpoints (default 1000)")
    parser.add_argument("--eval-every", type=int, help="steps between validations (default: each epoch)")
    parser.add_argument("--val-max", type=int, help="validation datapoints per evaluation, 0 = all (default 100000)")
    parser.add_argument("--seed", type=int, help="random seed (default 24098)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    parser.add_argument(
        "--init",
        type=Path,
        metavar="MODEL_OR_RUN",
        help="fine-tune: start from a run directory, weights file or exported .onnx model (e.g. models/gqcnn.onnx)",
    )
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    parser.set_defaults(func=run_cli)


def _config_from_args(args: argparse.Namespace, init: InitialModel | None) -> TrainConfig:
    """New-run config from flags (the layout follows --init), or for --resume the saved one (flags may only
    extend its length)."""
    given = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if getattr(args, f.name, None) is not None}
    if init is not None and "preset" not in given:
        if init.preset is None:
            raise ValueError(f"{args.init}: its network layout is none of the presets ({', '.join(PRESETS)})")
        given["preset"] = init.preset
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
    if args.init is not None and args.resume:
        raise ValueError("--init starts a new run; --resume continues one from its own checkpoint: pass one of them")
    init = initial_model(args.init) if args.init is not None else None
    config = _config_from_args(args, init)
    summary = train(args.dataset, args.out, config, resume=args.resume, progress=args.progress, init=init)
    best = summary["best"]
    line = f"trained {summary['steps']} steps ({summary['epochs']:.2f} epochs) in {summary['elapsed_s']:.0f} s"
    if best["step"] >= 0:
        line += f"; best {config.best_metric.replace('_', ' ')} {best[config.best_metric]:.4f} at step {best['step']}"
    print(f"{line}; run in {args.out}")
    return 0
