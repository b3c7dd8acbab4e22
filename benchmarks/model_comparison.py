"""Two (or more) GQ-CNNs on the same held-out images: accuracy, AUC and ECE overall, per sensor preset, per scene kind.

    python benchmarks/model_comparison.py DATASET --model v1=models/gqcnn.onnx --model v2=models/gqcnn_v2.onnx \
        [--split test] [--max N] [--threads 2]

Each model is evaluated with `dexnet evaluate` (its metrics.json, ROC, reliability diagram and gallery go to
benchmarks/results/model_comparison/NAME/), then one table compares them row by row: the whole split, then each
sensor preset and scene kind the dataset records per datapoint. Writes benchmarks/results/model_comparison.json.
A model is an exported .onnx (with its card) or a training run directory.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dexnet.evaluate import evaluate
from dexnet.run_dir import portable_path

RESULTS = Path(__file__).resolve().parent / "results"
COLUMNS = ("datapoints", "positive_rate", "accuracy", "balanced_accuracy", "auc", "ece", "precision_q_gt_0.5")


def rows(metrics: dict) -> dict[str, dict]:
    """{"all": {...}, "sensor_preset=ideal": {...}, ...} with the compared columns."""
    out = {"all": {c: metrics.get(c) for c in COLUMNS}}
    for field_name, groups in metrics.get("groups", {}).items():
        for name, group in groups.items():
            out[f"{field_name}={name}"] = {c: group.get(c) for c in COLUMNS}
    return out


def table(results: dict[str, dict[str, dict]]) -> str:
    """A markdown table: one line per (row, model)."""
    def fmt(value: object) -> str:
        return "n/a" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)

    lines = ["| images | model | " + " | ".join(COLUMNS) + " |", "|" + "---|" * (len(COLUMNS) + 2)]
    names = list(next(iter(results.values())))
    for row in names:
        for model, model_rows in results.items():
            values = model_rows.get(row, {})
            lines.append(f"| {row} | {model} | " + " | ".join(fmt(values.get(c)) for c in COLUMNS) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path, help="dataset directory (with manifest.json)")
    parser.add_argument("--model", action="append", required=True, metavar="NAME=PATH",
                        help="a model to compare (repeat): NAME=models/x.onnx or NAME=runs/x")
    parser.add_argument("--split", default="test", choices=("train", "val", "test"), help="default test")
    parser.add_argument("--max", type=int, default=0, help="cap datapoints (whole shards, seeded; 0 = all)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for inference (default 2)")
    parser.add_argument("--out", type=Path, default=RESULTS / "model_comparison.json")
    args = parser.parse_args(argv)

    models = {}
    for item in args.model:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            print(f"model_comparison: error: --model needs NAME=PATH, got '{item}'", file=sys.stderr)
            return 2
        models[name] = Path(path)
    results, facts = {}, {}
    for name, path in models.items():
        try:
            metrics = evaluate(path, args.dataset, args.split, args.out.with_suffix("") / name,
                               max_datapoints=args.max, threads=args.threads)
        except (FileNotFoundError, ValueError) as err:
            print(f"model_comparison: error: {name}: {err}", file=sys.stderr)
            return 2
        results[name] = rows(metrics)
        facts[name] = {"path": portable_path(path), "calibration": metrics["model"].get("calibration"),
                       "manifest_hash": metrics["manifest_hash"]}
    if len({f["manifest_hash"] for f in facts.values()}) > 1:
        print("model_comparison: error: the dataset changed between evaluations (still being generated?)",
              file=sys.stderr)
        return 1
    print(f"{args.split} split of {portable_path(args.dataset)}\n" + table(results))
    payload = {"dataset": portable_path(args.dataset), "split": args.split, "max_datapoints": args.max,
               "models": facts, "rows": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=1))
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
