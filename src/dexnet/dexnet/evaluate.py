"""`dexnet evaluate`: classification metrics and plots of a GQ-CNN on one split of a dataset.

    dexnet evaluate RUN_DIR|MODEL.onnx DATASET --split val|test [--out DIR]

A run directory is evaluated with torch (its best weights unless --weights says otherwise), an ONNX file
through the planner's loader (`gqcnn_core.model.GQCNN`), so the shipped artefact itself is what is
measured. Writes to DIR (default RUN_DIR/eval_SPLIT or MODEL_eval_SPLIT beside the model):
    metrics.json         accuracy, balanced accuracy, precision, recall, AUC, average precision, log loss,
                         the success rate of grasps scored q > 0.5 (= precision at threshold 0.5), the expected
                         calibration error with its reliability table (`dexnet.calibrate`), and under `groups`
                         the same per sensor preset and per scene kind (single object / heap) when the dataset
                         records them per datapoint (format 2), and the within-image AUC: the mean AUC over the
                         images holding both outcomes, how well q orders one scene's grasps (what ranking does)
    roc.png              ROC curve (one per group as well)
    reliability.png      reliability diagram: success rate against q per bin (one per group as well)
    training_curves.png  loss and accuracy against step (run directories with a metrics.csv)
    gallery.png          the highest and lowest scored crops with their scores and labels

Any model can be evaluated on any dataset cut with the same crop transform, so two models (v1 and v2) are
compared by evaluating both on the same split and reading the two metrics.json side by side.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from dexnet import dataset
from dexnet.network import predict_probabilities
from dexnet.run_dir import (
    dataset_camera_info,
    dataset_crop_info,
    load_run_config,
    load_run_model,
    portable_path,
    read_metrics,
    write_json,
)
from dexnet.stream import TRAIN_FIELDS, SplitShards, load_rows

Predictor = Callable[[np.ndarray, np.ndarray], np.ndarray]
THRESHOLD = 0.5
IMAGE_FIELDS = ("image_id",)  # with the shard (one object or heap), names the image a grasp was seen in
IMAGES_PER_SHARD = 2**31  # image ids are int32: shard index * this + image id is unique
GALLERY_SIZE = 16


@dataclass
class Scores:
    """P(success) and labels of a split, plus the extreme-scored datapoints for the gallery."""

    probabilities: np.ndarray
    labels: np.ndarray
    gallery: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # "top"/"bottom" -> crops, p, labels
    groups: dict[str, np.ndarray] = field(default_factory=dict)  # GROUP_FIELDS present in the dataset -> (N,)
    images: np.ndarray | None = None  # (N,) one id per rendered image (scene), for the within-image AUC


# Per-datapoint fields a dataset may record (format 2) and the names of their values.
GROUP_FIELDS = ("sensor_preset", "scene_kind")
SCENE_KINDS = ("single", "heap")


def group_names(field_name: str) -> tuple[str, ...]:
    if field_name == "sensor_preset":
        from gqcnn_core.sensor import SENSOR_PRESETS

        return SENSOR_PRESETS
    return SCENE_KINDS


def load_predictor(target: Path, weights: str = "best", threads: int | None = None) -> tuple[Predictor, dict]:
    """predict(crops (N,32,32), depths (N,)) -> P(success) (N,) for a run directory or an ONNX file, and its info."""
    target = Path(target)
    if target.is_dir():
        import torch

        if threads:
            torch.set_num_threads(threads)
        model, info = load_run_model(target, weights)
        run_config = load_run_config(target)
        return (lambda c, d: predict_probabilities(model, c, d)), {
            "kind": "run",
            "path": portable_path(target),
            "crop": run_config["crop"],
            "camera": run_config.get("camera"),
            **info,
        }
    if target.is_file():
        from gqcnn_core.model import GQCNN, ModelError

        try:
            model = GQCNN.load(target, threads=threads)
        except ModelError as err:
            raise ValueError(str(err)) from err
        card = model.card
        return model.predict, {"kind": "onnx", "path": portable_path(target), "crop": card["crop"],
                               "camera": card.get("camera"), "calibration": card.get("calibration")}
    raise FileNotFoundError(f"{target}: neither a run directory nor a model file")


def _keep_extremes(
    gallery: dict[str, dict[str, np.ndarray]], crops: np.ndarray, probs: np.ndarray, labels: np.ndarray, size: int
) -> None:
    # Merge this shard's candidates with the current extremes and keep the `size` highest and lowest.
    for name, sign in (("top", -1.0), ("bottom", 1.0)):
        pick = np.argsort(sign * probs, kind="stable")[:size]
        merged = {"crops": crops[pick], "probabilities": probs[pick], "labels": labels[pick]}
        if name in gallery:
            merged = {k: np.concatenate([gallery[name][k], merged[k]]) for k in merged}
        keep = np.argsort(sign * merged["probabilities"], kind="stable")[:size]
        gallery[name] = {k: v[keep] for k, v in merged.items()}


def score_split(
    predict: Predictor,
    dataset_dir: Path,
    split: str,
    max_datapoints: int = 0,
    gallery_size: int = GALLERY_SIZE,
    progress: bool = True,
) -> Scores:
    """Score every datapoint of `split` (or a fixed seeded subset of whole shards of ~max_datapoints)."""
    shards = SplitShards.of(dataset_dir, split).subset(seed=0, max_rows=max_datapoints)
    if not shards.paths:
        raise ValueError(f"{dataset_dir}: the '{split}' split has no datapoints")
    group_fields = tuple(f for f in GROUP_FIELDS if f in dataset.FIELDS)
    probs, labels, gallery, groups, images = [], [], {}, {f: [] for f in group_fields}, []
    bar = tqdm(total=shards.total, unit="grasp", desc=f"evaluate {split}", disable=not progress, dynamic_ncols=True)
    for shard_index, (path, count) in enumerate(zip(shards.paths, shards.counts, strict=True)):
        arrays = load_rows(path, count, fields=(*TRAIN_FIELDS, *group_fields, *IMAGE_FIELDS))
        p = np.asarray(predict(arrays["crops"], arrays["gripper_depth"]), dtype=np.float32)
        y = dataset.shard_labels(arrays)
        probs.append(p)
        labels.append(y)
        for f in group_fields:
            groups[f].append(arrays[f].astype(np.int64))
        images.append(shard_index * IMAGES_PER_SHARD + arrays["image_id"].astype(np.int64))
        if gallery_size:
            _keep_extremes(gallery, arrays["crops"], p, y, gallery_size)
        bar.update(count)
    bar.close()
    groups = {f: np.concatenate(v) for f, v in groups.items()}
    return Scores(np.concatenate(probs), np.concatenate(labels), gallery, groups, np.concatenate(images))


def within_image_auc(probabilities: np.ndarray, labels: np.ndarray, images: np.ndarray) -> dict:
    """Mean AUC of q over the images whose grasps have both labels, and how many images that is."""
    from sklearn.metrics import roc_auc_score

    _, index = np.unique(images, return_inverse=True)
    order = np.argsort(index, kind="stable")
    aucs = []
    for rows in np.split(order, np.flatnonzero(np.diff(index[order])) + 1):
        if 0 < labels[rows].sum() < len(rows):
            aucs.append(roc_auc_score(labels[rows], probabilities[rows]))
    return {"within_image_auc": float(np.mean(aucs)) if aucs else None, "images_with_both_labels": len(aucs)}


def classification_metrics(probabilities: np.ndarray, labels: np.ndarray, threshold: float = THRESHOLD) -> dict:
    """Accuracy, precision, recall, AUC etc. of P(success) against boolean labels at `threshold`."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    predicted = p > threshold
    tp = int(np.sum(predicted & y))
    fp = int(np.sum(predicted & ~y))
    fn = int(np.sum(~predicted & y))
    tn = int(np.sum(~predicted & ~y))
    both = 0 < y.sum() < len(y)
    clipped = np.clip(p, 1e-7, 1 - 1e-7)

    def ratio(a: int, b: int) -> float | None:
        return a / b if b else None  # undefined, e.g. precision when nothing is predicted positive

    recalls = [r for r in (ratio(tp, tp + fn), ratio(tn, tn + fp)) if r is not None]
    return {
        "datapoints": len(y),
        "positive_rate": float(y.mean()) if len(y) else None,
        "threshold": threshold,
        "accuracy": ratio(tp + tn, len(y)),
        "balanced_accuracy": float(np.mean(recalls)) if recalls else None,
        "precision": ratio(tp, tp + fp),
        "recall": ratio(tp, tp + fn),
        "auc": float(roc_auc_score(y, p)) if both else None,
        "average_precision": float(average_precision_score(y, p)) if both else None,
        "log_loss": float(-np.mean(np.where(y, np.log(clipped), np.log(1 - clipped)))) if len(y) else None,
        f"num_q_gt_{threshold}": tp + fp,
        f"precision_q_gt_{threshold}": ratio(tp, tp + fp),
        "confusion": {"tp": tp, "fp": fp, "fn": fn, "tn": tn},
    }


def plot_roc(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: Path, title: str = "ROC") -> None:
    """ROC curves of {name: (q, labels)} with their AUCs."""
    from matplotlib.figure import Figure
    from sklearn.metrics import roc_auc_score, roc_curve

    fig = Figure(figsize=(4.5, 4.5))
    ax = fig.add_subplot()
    for name, (probabilities, labels) in curves.items():
        if 0 < np.sum(labels) < len(labels):
            fpr, tpr, _ = roc_curve(labels, probabilities)
            ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(labels, probabilities):.3f})")
    ax.plot([0, 1], [0, 1], "k--", lw=0.8, label="chance")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title=title, xlim=(0, 1), ylim=(0, 1))
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def group_metrics(scores: Scores) -> dict[str, dict[str, dict]]:
    """Metrics and ECE per value of each group field present (e.g. sensor_preset -> ideal -> {...})."""
    from dexnet.calibrate import expected_calibration_error

    out: dict[str, dict[str, dict]] = {}
    for field_name, values in scores.groups.items():
        names = group_names(field_name)
        out[field_name] = {}
        for value in np.unique(values):
            pick = values == value
            name = names[value] if 0 <= value < len(names) else str(value)
            p, y = scores.probabilities[pick], scores.labels[pick]
            out[field_name][name] = {**classification_metrics(p, y), "ece": expected_calibration_error(p, y)}
    return out


def group_curves(scores: Scores, split: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{name: (q, labels)}: the whole split, then each group with more than one value in it."""
    curves = {f"all {split}": (scores.probabilities, scores.labels)}
    for field_name, values in scores.groups.items():
        present = np.unique(values)
        if len(present) < 2:
            continue
        names = group_names(field_name)
        for value in present:
            name = names[value] if 0 <= value < len(names) else str(value)
            curves[name] = (scores.probabilities[values == value], scores.labels[values == value])
    return curves


def plot_training_curves(rows: list[dict[str, float]], path: Path) -> None:
    """Loss and accuracy (train and validation) and validation AUC against step from metrics.csv rows."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 3.8))
    steps = [r["step"] for r in rows]
    panels = (("loss", ("train", "val")), ("accuracy", ("train", "val", "val_balanced")), ("auc", ("val",)))
    for index, (metric, prefixes) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), index + 1)
        for prefix in prefixes:
            values = [r.get(f"{prefix}_{metric}", float("nan")) for r in rows]
            ax.plot(steps, values, marker="o", ms=3, label=prefix.replace("_", " "))
        ax.set(xlabel="step", ylabel=metric)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def plot_gallery(gallery: dict[str, dict[str, np.ndarray]], path: Path, columns: int = 8) -> None:
    """Highest scored crops above, lowest below; title q and the label (S success, F failure)."""
    from matplotlib.figure import Figure

    sections = [(name, gallery[name]) for name in ("top", "bottom") if name in gallery]
    rows_per = [int(np.ceil(len(s["probabilities"]) / columns)) for _, s in sections]
    fig = Figure(figsize=(columns * 1.3, max(sum(rows_per), 1) * 1.5 + 0.4))
    grid = fig.add_gridspec(max(sum(rows_per), 1), columns)
    row = 0
    for (name, section), n_rows in zip(sections, rows_per, strict=True):
        for i, (crop, p, y) in enumerate(
            zip(section["crops"], section["probabilities"], section["labels"], strict=True)
        ):
            ax = fig.add_subplot(grid[row + i // columns, i % columns])
            ax.imshow(crop, cmap="gray")  # depth: nearer surfaces darker
            ax.set_title(f"{name} q={p:.2f} {'S' if y else 'F'}", fontsize=7, color="green" if y else "red")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.axhline((crop.shape[0] - 1) / 2, color="c", lw=0.5)  # grasp axis
        row += n_rows
    fig.suptitle("highest (top rows) and lowest (bottom rows) scored grasps; S = success label", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def footprint_warnings(info: dict, manifest: dict) -> list[str]:
    """A warning when the dataset's crops cover another metric footprint than the model was trained on.

    The planner rescales its crop window to each camera (`GQCNN.for_camera`), but a dataset's crops are already
    cut: a model trained at window/fx = 96/525 px scores crops cut at another ratio below its real quality.
    """
    camera = info.get("camera")
    if not camera:
        return []
    data_camera, data_crop = dataset_camera_info(manifest), dataset_crop_info(manifest)
    model_ratio = info["crop"]["window_px"] / float(camera["fx"])
    data_ratio = data_crop["window_px"] / data_camera["fx"]
    if abs(model_ratio / data_ratio - 1.0) <= 0.01:
        return []
    return [
        f"the model's crops span {info['crop']['window_px']} px at fx {float(camera['fx']):.0f}, the dataset's "
        f"{data_crop['window_px']} px at fx {data_camera['fx']:.0f}: another metric footprint, so these metrics "
        "understate what the planner (which rescales its window) gets"
    ]


def default_out_dir(target: Path, split: str) -> Path:
    target = Path(target)
    return target / f"eval_{split}" if target.is_dir() else target.with_name(f"{target.stem}_eval_{split}")


def evaluate(
    target: Path,
    dataset_dir: Path,
    split: str = "val",
    out_dir: Path | None = None,
    weights: str = "best",
    max_datapoints: int = 0,
    threads: int | None = None,
    progress: bool = True,
) -> dict:
    """Evaluate a run or ONNX model on a split; writes metrics.json and the plots to `out_dir`, returns the metrics."""
    if split not in dataset.SPLITS:
        raise ValueError(f"unknown split '{split}', expected one of {', '.join(dataset.SPLITS)}")
    target, dataset_dir = Path(target), Path(dataset_dir)
    manifest = dataset.load_manifest(dataset_dir)
    predict, info = load_predictor(target, weights, threads)
    data_crop = dataset_crop_info(manifest)
    if info["crop"].get("transform_version") != data_crop["transform_version"]:
        raise ValueError(
            f"the model was trained on crops cut with '{info['crop'].get('transform_version')}', "
            f"the dataset's were cut with '{data_crop['transform_version']}'"
        )
    warnings = footprint_warnings(info, manifest)
    scores = score_split(predict, dataset_dir, split, max_datapoints, progress=progress)
    out_dir = Path(out_dir) if out_dir else default_out_dir(target, split)
    out_dir.mkdir(parents=True, exist_ok=True)
    from dexnet.calibrate import calibration_summary, plot_reliability

    metrics = classification_metrics(scores.probabilities, scores.labels)
    metrics["calibration"] = calibration_summary(scores.probabilities, scores.labels)
    metrics["ece"] = metrics["calibration"]["ece"]
    metrics.update(within_image_auc(scores.probabilities, scores.labels, scores.images))
    groups = group_metrics(scores)
    if groups:
        metrics["groups"] = groups
    curves = group_curves(scores, split)
    plot_roc(curves, out_dir / "roc.png", title=f"ROC, {split} split")
    plot_reliability(curves, out_dir / "reliability.png", title=f"reliability, {split} split")
    plot_gallery(scores.gallery, out_dir / "gallery.png")
    files = ["metrics.json", "roc.png", "reliability.png", "gallery.png"]
    rows = read_metrics(target) if info["kind"] == "run" else []
    if rows:
        plot_training_curves(rows, out_dir / "training_curves.png")
        files.append("training_curves.png")
    metrics.update(
        split=split,
        warnings=warnings,
        model=info,
        dataset=portable_path(dataset_dir),
        manifest_hash=dataset.manifest_hash(dataset_dir),
        files=files,
    )
    write_json(out_dir / "metrics.json", metrics)
    return metrics


def register_cli(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate", help="metrics and plots of a GQ-CNN on a dataset split", description=__doc__.splitlines()[0]
    )
    parser.add_argument("target", type=Path, help="training run directory or exported .onnx model")
    parser.add_argument("dataset", type=Path, help="dataset directory (with manifest.json)")
    parser.add_argument("--split", choices=dataset.SPLITS, default="val", help="default val")
    parser.add_argument("--out", type=Path, help="output directory (default RUN_DIR/eval_SPLIT or MODEL_eval_SPLIT)")
    parser.add_argument("--weights", choices=("best", "final", "checkpoint"), default="best", help="for run dirs")
    parser.add_argument("--max", type=int, default=0, dest="max_datapoints", help="cap datapoints (0 = all)")
    parser.add_argument("--threads", type=int, help="CPU threads for inference")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    parser.set_defaults(func=run_cli)


def run_cli(args: argparse.Namespace) -> int:
    out = args.out or default_out_dir(args.target, args.split)
    metrics = evaluate(
        args.target, args.dataset, args.split, out, args.weights, args.max_datapoints, args.threads, args.progress
    )

    def fmt(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.4f}"

    print(
        f"{args.split}: {metrics['datapoints']} grasps, accuracy {fmt(metrics['accuracy'])}, "
        f"precision {fmt(metrics['precision'])}, recall {fmt(metrics['recall'])}, AUC {fmt(metrics['auc'])}, "
        f"ECE {fmt(metrics['ece'])}, within-image AUC {fmt(metrics['within_image_auc'])} "
        f"({metrics['images_with_both_labels']} images with both outcomes); written to {out}"
    )
    for warning in metrics["warnings"]:
        print(f"dexnet evaluate: warning: {warning}", file=sys.stderr)
    for field_name, groups in metrics.get("groups", {}).items():
        for name, group in groups.items():
            print(
                f"  {field_name} {name}: {group['datapoints']} grasps, accuracy {fmt(group['accuracy'])}, "
                f"AUC {fmt(group['auc'])}, ECE {fmt(group['ece'])}"
            )
    return 0
