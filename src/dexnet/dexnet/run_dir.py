"""A training run directory on disk: its files, the run config, checkpoints, metrics and trained weights.

    config.json        training + network config, dataset path and manifest hash, crop transform, camera
    checkpoint.pt      latest full training state (written atomically every --checkpoint-every steps,
                       after each validation and on Ctrl-C)
    model_best.pt      weights with the best validation accuracy so far
    model_final.pt     weights at the end of training
    init_weights.pt    the weights a fine-tuning run (--init) started from, so a resume before the first
                       checkpoint starts from them again
    metrics.csv        one row per validation: step, epoch, lr, train loss/accuracy, val metrics, time
    summary.json       final metrics and run facts
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import torch

from dexnet import dataset
from dexnet.network import GQCNNNet, NetworkConfig, load_weights

CONFIG_FILE = "config.json"
CHECKPOINT_FILE = "checkpoint.pt"
BEST_FILE = "model_best.pt"
FINAL_FILE = "model_final.pt"
INIT_FILE = "init_weights.pt"
METRICS_FILE = "metrics.csv"
SUMMARY_FILE = "summary.json"
CHECKPOINT_FORMAT = "dexnet-gqcnn-checkpoint-v1"
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
# The camera of Dex-Net 2.0 datasets (dexnet.generate's default, gqcnn_core.render's camera sphere): what a
# manifest without its own camera entry was rendered with.
DEXNET_CAMERA = {"fx": 525.0, "fy": 525.0, "width": 640, "height": 480, "depth_range_m": [0.6, 0.75]}


def is_run_dir(path: Path) -> bool:
    return (Path(path) / CONFIG_FILE).is_file()


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


def dataset_camera_info(manifest: dict) -> dict:
    """Focal length (px), image size and depth range (m) of the camera the dataset was rendered with.

    Read from the manifest's `camera` entry (with whatever else it records: mount heights, tilt, sensor presets),
    else its generation config's `camera`; whatever is missing or empty is the Dex-Net 2.0 camera's (v1 datasets).
    """
    recorded = manifest.get("camera") or (manifest.get("config") or {}).get("camera") or {}
    camera = {**recorded, **{k: recorded.get(k) or v for k, v in DEXNET_CAMERA.items()}}
    camera["fx"], camera["fy"] = float(camera["fx"]), float(camera["fy"])
    camera["depth_range_m"] = [float(v) for v in camera["depth_range_m"]]
    camera["source"] = "manifest" if recorded else "default (Dex-Net 2.0 camera)"
    return camera


def portable_path(path: Path) -> str:
    """`path` relative to the working directory when inside it, else its name: never a machine's absolute path."""
    path = Path(path)
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.name


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


def load_run_config(run_dir: Path) -> dict:
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir}: no {CONFIG_FILE} (not a training run directory?)")
    return json.loads(path.read_text())


def load_checkpoint(path: Path) -> dict:
    """A full training state written by `dexnet train`; ValueError for anything else."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises assorted types for unreadable files
        raise ValueError(f"{path}: unreadable checkpoint ({type(err).__name__})") from err
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: not a GQ-CNN training checkpoint")
    return state


def load_run_model(run_dir: Path, weights: str = "best") -> tuple[GQCNNNet, dict]:
    """The network of a run ("best", "final" or "checkpoint" weights) in eval mode, and info about it.

    The info's `weights` names the file relative to the working directory (or by name), never by absolute path.
    """
    run_dir = Path(run_dir)
    run_config = load_run_config(run_dir)
    if weights == "checkpoint":
        path = run_dir / CHECKPOINT_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{run_dir}: no {CHECKPOINT_FILE}")
        state = load_checkpoint(path)
        model = GQCNNNet(NetworkConfig.from_dict(run_config["network"]))
        model.load_state_dict(state["model"])
        return model.eval(), {"weights": portable_path(path), "step": int(state["step"])}
    names = {"best": (BEST_FILE, FINAL_FILE), "final": (FINAL_FILE,)}
    if weights not in names:
        raise ValueError(f"unknown weights '{weights}', expected best, final or checkpoint")
    for name in names[weights]:
        if (run_dir / name).is_file():
            model, info = load_weights(run_dir / name)
            return model, {**info, "weights": portable_path(run_dir / name)}
    raise FileNotFoundError(
        f"{run_dir}: no {names[weights][0]} (training not finished? use --weights checkpoint for the latest state)"
    )
