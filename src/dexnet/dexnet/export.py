"""`dexnet export`: a training run's GQ-CNN as ONNX plus its model card, checked before it is written.

    dexnet export RUN_DIR --out models/NAME.onnx [--weights best|final|checkpoint] [--no-calibrate]
    dexnet export MODEL.onnx --out models/NAME.onnx --calibration-data DATASET     (re-calibrate a model)

writes `NAME.onnx` (dynamic batch axis; inputs crops (N,1,32,32) and gripper_depth (N,1) in metres,
output p_success (N,)) and `NAME.json`, the model card `gqcnn_core.model.GQCNN` reads: input contract,
crop window/size and crop transform version, the training camera (focal length, image size, depth range: the
planner scales its crop window to it), dataset manifest hash, training config, metrics, crops/s measured on
this machine, and the calibration of q (fitted on the validation objects, baked into the graph, with the
expected calibration error before and after; `--no-calibrate` skips it). Before anything is written the graph
passes onnx.checker and torch and onnxruntime agree to < 1e-4 on random metric inputs; afterwards the planner's
loader must accept the pair.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

from dexnet import dataset
from dexnet.network import (
    CROP_SIZE,
    GQCNNNet,
    SuccessProbability,
    count_parameters,
    multiply_accumulates,
    preset,
)
from dexnet.run_dir import SUMMARY_FILE, dataset_camera_info, load_run_config, load_run_model, portable_path
from gqcnn_core.model import CARD_FORMAT, CROPS_INPUT, DEPTH_INPUT, GQCNN, OUTPUT_NAME, card_path

OPSET = 17
PARITY_TOLERANCE = 1e-4  # max |P_torch - P_onnxruntime| on fp32
BATCH_AXIS = "batch"


def onnx_bytes(model: GQCNNNet, opset: int = OPSET, temperature: float = 1.0, bias: float = 0.0) -> bytes:
    """Serialised ONNX graph of P(success) for `model` (eval mode, dynamic batch axis), checked by onnx.checker.

    `temperature` and `bias` are the calibration baked into the graph (`SuccessProbability`).
    """
    head = SuccessProbability(model, temperature, bias).eval()
    example = (torch.zeros(2, 1, CROP_SIZE, CROP_SIZE), torch.zeros(2, 1))
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # The TorchScript-based exporter (no onnxscript dependency) announces its deprecation.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            head,
            example,
            buffer,
            dynamo=False,
            input_names=[CROPS_INPUT, DEPTH_INPUT],
            output_names=[OUTPUT_NAME],
            dynamic_axes={CROPS_INPUT: {0: BATCH_AXIS}, DEPTH_INPUT: {0: BATCH_AXIS}, OUTPUT_NAME: {0: BATCH_AXIS}},
            opset_version=opset,
            do_constant_folding=True,
        )
    data = buffer.getvalue()
    onnx.checker.check_model(onnx.load_from_string(data), full_check=True)
    return data


def session_from_bytes(data: bytes, threads: int | None = None) -> ort.InferenceSession:
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def random_metric_inputs(model: GQCNNNet, count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Plausible inputs (crops (N,1,32,32), depths (N,1), metres) around the model's training statistics."""
    rng = np.random.default_rng(seed)
    norm = model.normalization()
    crops = norm["crop_mean"] + norm["crop_std"] * rng.standard_normal((count, 1, CROP_SIZE, CROP_SIZE))
    depths = norm["depth_mean"] + norm["depth_std"] * rng.standard_normal((count, 1))
    return crops.astype(np.float32), depths.astype(np.float32)


def parity_error(
    model: GQCNNNet,
    session: ort.InferenceSession,
    count: int = 256,
    seed: int = 0,
    temperature: float = 1.0,
    bias: float = 0.0,
) -> float:
    """Max |P(success)| difference between torch (with the calibration) and onnxruntime on random metric inputs."""
    crops, depths = random_metric_inputs(model, count, seed)
    with torch.no_grad():
        head = SuccessProbability(model.eval(), temperature, bias).eval()
        expected = head(torch.from_numpy(crops), torch.from_numpy(depths)).numpy()
    got = session.run(None, {CROPS_INPUT: crops, DEPTH_INPUT: depths})[0]
    if got.shape != expected.shape:
        raise ValueError(f"ONNX output has shape {got.shape}, torch {expected.shape}")
    return float(np.max(np.abs(got - expected)))


def crops_per_second(
    predict: Callable[[np.ndarray, np.ndarray], np.ndarray], batch_size: int, seconds: float = 1.0, seed: int = 0
) -> float:
    """Throughput of `predict(crops (B,32,32), depths (B,))` in crops/s over about `seconds` (after a warm-up)."""
    rng = np.random.default_rng(seed)
    crops = rng.uniform(0.5, 0.7, (batch_size, CROP_SIZE, CROP_SIZE)).astype(np.float32)
    depths = rng.uniform(0.5, 0.7, batch_size).astype(np.float32)
    predict(crops, depths)
    runs, start = 0, time.perf_counter()
    while runs < 3 or time.perf_counter() - start < seconds:
        predict(crops, depths)
        runs += 1
    return runs * batch_size / (time.perf_counter() - start)


def session_predictor(session: ort.InferenceSession) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    def predict(crops: np.ndarray, depths: np.ndarray) -> np.ndarray:
        return session.run(None, {CROPS_INPUT: crops[:, None], DEPTH_INPUT: depths[:, None]})[0]

    return predict


def _run_metrics(run_dir: Path) -> dict:
    """Training summary and any `dexnet evaluate` results found in the run directory."""
    metrics: dict = {}
    if (run_dir / SUMMARY_FILE).is_file():
        summary = json.loads((run_dir / SUMMARY_FILE).read_text())
        metrics["training"] = {k: summary.get(k) for k in ("steps", "epochs", "final", "best", "elapsed_s")}
    for path in sorted(run_dir.glob("eval_*/metrics.json")):
        metrics[path.parent.name] = json.loads(path.read_text())
    return metrics


def model_card(
    model: GQCNNNet,
    run_config: dict,
    weights_info: dict,
    metrics: dict,
    speed: dict,
    parity: float,
    model_file: str,
    calibration: dict | None = None,
) -> dict:
    """The JSON card written beside an exported model (the planner reads `crop`, `camera` and the input contract).

    Paths in it are relative to the working directory or bare names, never a machine's absolute paths.
    """
    dataset_path = run_config.get("dataset_name") or (Path(run_config["dataset"]).name if run_config.get("dataset")
                                                      else None)
    calibrated = calibration is not None
    return {
        "format": CARD_FORMAT,
        "model_file": model_file,
        "inputs": [
            {
                "name": CROPS_INPUT,
                "shape": [BATCH_AXIS, 1, CROP_SIZE, CROP_SIZE],
                "dtype": "float32",
                "units": "metres",
                "description": "grasp-aligned depth crops (gqcnn_core.crop), raw: normalisation is in the graph",
            },
            {
                "name": DEPTH_INPUT,
                "shape": [BATCH_AXIS, 1],
                "dtype": "float32",
                "units": "metres",
                "description": "gripper depth along the camera z axis",
            },
        ],
        "output": {
            "name": OUTPUT_NAME,
            "shape": [BATCH_AXIS],
            "dtype": "float32",
            "description": "P(grasp success), "
            + ("calibrated on the validation objects (see calibration)" if calibrated
               else "calibrated to the training positive rate"),
        },
        "crop": {k: run_config["crop"][k] for k in ("window_px", "out_px", "transform_version")},
        "camera": run_config.get("camera") or dataset_camera_info({}),
        "calibration": calibration,
        "dataset": {
            "path": dataset_path,
            "manifest_hash": run_config.get("manifest_hash"),
            "code_version": run_config.get("dataset_code_version"),
        },
        "network": {
            "preset": run_config["train"]["preset"],
            "config": model.config.to_dict(),
            "parameters": count_parameters(model),
            "multiply_accumulates_per_crop": multiply_accumulates(model.config),
            "normalization": model.normalization(),
        },
        "training": {k: run_config.get(k) for k in ("train", "augment", "statistics", "init")},
        "weights": weights_info,
        "metrics": metrics,
        "benchmark": speed,
        "parity_max_abs_diff": parity,
        "exported": {
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "opset": OPSET,
            "torch": torch.__version__,
            "onnx": onnx.__version__,
            "onnxruntime": ort.__version__,
        },
    }


def export_model(
    model: GQCNNNet,
    out: Path,
    run_config: dict,
    weights_info: dict | None = None,
    metrics: dict | None = None,
    threads: int | None = None,
    benchmark_seconds: float = 2.0,
    calibration: dict | None = None,
) -> dict:
    """Export `model` to `out` (.onnx) with its card; returns the card. Nothing is written if a check fails.

    `calibration` (`dexnet.calibrate.calibrate_model`) is baked into the graph and recorded in the card.
    """
    out = Path(out)
    if out.suffix != ".onnx":
        raise ValueError(f"{out}: the model file name must end in .onnx")
    model = model.eval()
    temperature, bias = (calibration["temperature"], calibration["bias"]) if calibration else (1.0, 0.0)
    data = onnx_bytes(model, temperature=temperature, bias=bias)
    session = session_from_bytes(data, threads)
    parity = parity_error(model, session, temperature=temperature, bias=bias)
    if not parity < PARITY_TOLERANCE:
        raise ValueError(f"torch and onnxruntime disagree by {parity:.2e} (tolerance {PARITY_TOLERANCE:.0e})")
    batch = 256
    speed = {
        "crops_per_s_batch_256": round(crops_per_second(session_predictor(session), batch, benchmark_seconds), 1),
        "intra_op_threads": threads or "onnxruntime default",
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "cpu_count": os.cpu_count(),
    }
    card = model_card(model, run_config, weights_info or {}, metrics or {}, speed, parity, out.name, calibration)
    dataset.atomic_write_bytes(out, lambda f: f.write(data))
    text = json.dumps(card, indent=1, default=str).encode()
    dataset.atomic_write_bytes(card_path(out), lambda f: f.write(text))
    GQCNN.load(out)  # the planner's own checks must pass on what we ship
    return card


def export_untrained(preset_name: str, out: Path, threads: int | None = None, benchmark_seconds: float = 0.5) -> dict:
    """Export a randomly initialised network of a preset (for speed measurements only; the card says so)."""
    from gqcnn_core.crop import CROP_TRANSFORM_VERSION, CropSpec

    torch.manual_seed(0)
    model = GQCNNNet(preset(preset_name))
    model.set_normalization(0.6, 0.05, 0.6, 0.05)  # plausible metric scales so activations look realistic
    spec = CropSpec()
    run_config = {
        "train": {"preset": preset_name},
        "crop": {"window_px": spec.crop_size, "out_px": spec.out_size, "transform_version": CROP_TRANSFORM_VERSION},
    }
    return export_model(model, out, run_config, {"untrained": True}, {}, threads, benchmark_seconds)


def _calibrate(model: GQCNNNet, data: Path, max_datapoints: int, progress: bool, whose: str) -> dict:
    from dexnet.calibrate import calibrate_model

    if not (data / dataset.MANIFEST).is_file():
        raise FileNotFoundError(
            f"calibration needs {whose} dataset, {data} has no {dataset.MANIFEST}: "
            "pass --calibration-data DATASET (same crops) or --no-calibrate"
        )
    calibration = calibrate_model(model, data, max_datapoints, progress=progress)
    return {**calibration, "dataset": portable_path(data), "manifest_hash": dataset.manifest_hash(data)}


def export_run(
    run_dir: Path,
    out: Path,
    weights: str = "best",
    threads: int | None = None,
    benchmark_seconds: float = 2.0,
    calibrate: bool = True,
    calibration_data: Path | None = None,
    calibration_max: int = 0,
    progress: bool = False,
) -> dict:
    """Export a training run's weights ("best", "final" or "checkpoint"); returns the model card.

    With `calibrate`, q is calibrated on the validation objects of `calibration_data` (default: the dataset the
    run was trained on) before export (`dexnet.calibrate`).
    """
    run_dir = Path(run_dir)
    run_config = load_run_config(run_dir)
    if "camera" not in run_config:  # a run started before runs recorded it: ask its dataset, if it is here
        manifest = Path(run_config.get("dataset") or "") / dataset.MANIFEST
        run_config["camera"] = dataset_camera_info(json.loads(manifest.read_text()) if manifest.is_file() else {})
    model, info = load_run_model(run_dir, weights)
    calibration = None
    if calibrate:
        data = Path(calibration_data or run_config.get("dataset") or "")
        calibration = _calibrate(model, data, calibration_max, progress, "the run's")
    return export_model(model, out, run_config, info, _run_metrics(run_dir), threads, benchmark_seconds, calibration)


def export_model_file(
    model_file: Path,
    out: Path,
    threads: int | None = None,
    benchmark_seconds: float = 2.0,
    calibrate: bool = True,
    calibration_data: Path | None = None,
    calibration_max: int = 0,
    progress: bool = False,
) -> dict:
    """Re-export an exported model (e.g. the shipped v1) with q calibrated on `calibration_data`'s val objects.

    The torch network is rebuilt from the graph (`dexnet.warm_start`, parity-checked); the card keeps the old
    card's training facts and metrics and gains the new calibration (any earlier one is replaced, not stacked).
    """
    from dexnet.warm_start import initial_model

    model_file = Path(model_file)
    start = initial_model(model_file)
    card = json.loads(card_path(model_file).read_text())
    if calibrate and calibration_data is None:
        raise ValueError("re-calibrating an exported model needs --calibration-data DATASET (or --no-calibrate)")
    training = card.get("training") or {}
    run_config = {
        **training,
        "train": {**(training.get("train") or {}), "preset": start.preset or card["network"]["preset"]},
        "crop": card["crop"],
        "camera": card.get("camera") or dataset_camera_info({}),
        "dataset_name": (card.get("dataset") or {}).get("path"),
        "manifest_hash": (card.get("dataset") or {}).get("manifest_hash"),
        "dataset_code_version": (card.get("dataset") or {}).get("code_version"),
    }
    calibration = None
    if calibrate:
        calibration = _calibrate(start.model, Path(calibration_data), calibration_max, progress, "a")
    weights = {**(card.get("weights") or {}), "re_exported_from": portable_path(model_file)}
    return export_model(start.model, out, run_config, weights, card.get("metrics") or {}, threads,
                        benchmark_seconds, calibration)


def register_cli(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export", help="export a trained GQ-CNN to ONNX with its model card", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "run_dir", type=Path, metavar="RUN_DIR_OR_MODEL",
        help="training run directory, or an exported .onnx to re-calibrate (with --calibration-data)",
    )
    parser.add_argument("--out", type=Path, required=True, help="model file to write, e.g. models/gqcnn.onnx")
    parser.add_argument("--weights", choices=("best", "final", "checkpoint"), default="best", help="default best")
    parser.add_argument("--threads", type=int, help="onnxruntime intra-op threads for the speed measurement")
    parser.add_argument("--benchmark-seconds", type=float, default=2.0, help="time spent measuring crops/s")
    parser.add_argument("--no-calibrate", dest="calibrate", action="store_false", help="export q uncalibrated")
    parser.add_argument(
        "--calibration-data", type=Path, help="dataset whose val objects calibrate q (default: the run's dataset)"
    )
    parser.add_argument("--calibration-max", type=int, default=0, help="cap datapoints per split (0 = all)")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    parser.set_defaults(func=run_cli)


def run_cli(args: argparse.Namespace) -> int:
    options = (args.threads, args.benchmark_seconds, args.calibrate, args.calibration_data, args.calibration_max,
               args.progress)
    if args.run_dir.is_file():
        card = export_model_file(args.run_dir, args.out, *options)
    else:
        card = export_run(args.run_dir, args.out, args.weights, *options)
    line = (
        f"exported {args.out} and {card_path(args.out).name}: parity {card['parity_max_abs_diff']:.1e}, "
        f"{card['benchmark']['crops_per_s_batch_256']:.0f} crops/s at batch 256"
    )
    calibration = card["calibration"]
    if calibration:
        line += f"; calibrated (temperature {calibration['temperature']:.3f}, bias {calibration['bias']:+.3f})"
        for split in ("val", "test"):
            if f"ece_{split}_after" in calibration:
                line += (f", {split} ECE {calibration[f'ece_{split}_before']:.3f} -> "
                         f"{calibration[f'ece_{split}_after']:.3f}")
    print(line)
    return 0
