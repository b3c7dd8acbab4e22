"""GQ-CNN inference speed: the "reference" (GQ-CNN 2.0) network against the shipped/"fast" one, in one run.

    python benchmarks/inference.py [--reference REF.onnx] [--fast FAST.onnx] [--threads 2] [--seconds 1]

Both models run through the planner's loader (`gqcnn_core.model.GQCNN`, onnxruntime) at batch 1, 64 and
256; the rounds alternate between the models so load from other work on the machine hits both alike, and the
median round counts. Without --fast the shipped models/gqcnn.onnx is used; a model that is not given (or not
shipped) is exported untrained from its preset into a temporary directory, which measures speed just as well
(the weights do not change the work) and is marked "untrained" in the results. Prints a table and writes
benchmarks/results/inference.json with the fast/reference ratio per batch size (target: >= 3 at batch 256).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
from pathlib import Path

import numpy as np

from dexnet.export import crops_per_second, export_untrained
from dexnet.network import PRESETS, multiply_accumulates
from gqcnn_core.model import GQCNN
from gqcnn_core.paths import SHIPPED_MODEL

RESULTS = Path(__file__).resolve().parent / "results"
BATCHES = (1, 64, 256)
TARGET_RATIO = 3.0


def resolve_model(name: str, given: Path | None, shipped: Path | None, tmp: Path, threads: int) -> dict:
    """Path and provenance of the model to measure for `name` ("reference" or "fast")."""
    for path, source in ((given, "given"), (shipped, "shipped")):
        if path is not None and path.is_file():
            card = json.loads(path.with_suffix(".json").read_text())
            untrained = bool(card.get("weights", {}).get("untrained"))
            return {"path": str(path), "source": source, "untrained": untrained, "preset": card["network"]["preset"]}
    out = tmp / f"{name}_untrained.onnx"
    export_untrained(name, out, threads=threads, benchmark_seconds=0.1)
    return {"path": str(out), "source": "exported untrained from preset", "untrained": True, "preset": name}


def measure(models: dict[str, dict], threads: int, seconds: float, rounds: int) -> dict[int, dict[str, float]]:
    """Median crops/s per batch size and model over alternating rounds."""
    results: dict[int, dict[str, float]] = {}
    for batch in BATCHES:
        loaded = {name: GQCNN.load(info["path"], batch_size=batch, threads=threads) for name, info in models.items()}
        samples: dict[str, list[float]] = {name: [] for name in loaded}
        for _ in range(rounds):
            for name, model in loaded.items():
                samples[name].append(crops_per_second(model.predict, batch, seconds))
        results[batch] = {name: float(np.median(values)) for name, values in samples.items()}
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, help="ONNX model of the reference network (default: untrained)")
    parser.add_argument("--fast", type=Path, help=f"ONNX model to compare (default: {SHIPPED_MODEL.name} if shipped)")
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime intra-op threads (default 2)")
    parser.add_argument("--seconds", type=float, default=1.0, help="seconds per measurement (default 1)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per batch size (default 3)")
    parser.add_argument("--out", type=Path, default=RESULTS / "inference.json")
    args = parser.parse_args(argv)
    for path in (args.reference, args.fast):
        if path is not None and not path.is_file():
            parser.error(f"{path}: no such model file")

    with tempfile.TemporaryDirectory(prefix="gqcnn-bench-") as tmp:
        models = {
            "reference": resolve_model("reference", args.reference, None, Path(tmp), args.threads),
            "fast": resolve_model("fast", args.fast, SHIPPED_MODEL, Path(tmp), args.threads),
        }
        speeds = measure(models, args.threads, args.seconds, args.rounds)

    for info in models.values():
        if info["preset"] in PRESETS:
            info["multiply_accumulates_per_crop"] = multiply_accumulates(PRESETS[info["preset"]])
    table = {
        str(batch): {
            "reference_crops_per_s": round(s["reference"], 1),
            "fast_crops_per_s": round(s["fast"], 1),
            "ratio": round(s["fast"] / s["reference"], 2),
        }
        for batch, s in speeds.items()
    }
    ratio_256 = table["256"]["ratio"]
    report = {
        "what": "GQ-CNN crops/s through gqcnn_core.model.GQCNN (onnxruntime CPU), median of alternating rounds",
        "models": models,
        "any_untrained": any(m["untrained"] for m in models.values()),
        "batches": table,
        "ratio_batch_256": ratio_256,
        "target_ratio_batch_256": TARGET_RATIO,
        "meets_target": ratio_256 >= TARGET_RATIO,
        "threads": args.threads,
        "seconds_per_measurement": args.seconds,
        "rounds": args.rounds,
        "machine": {"cpu_count": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")

    names = {name: f"{name}{' (untrained)' if info['untrained'] else ''}" for name, info in models.items()}
    print(f"crops/s, onnxruntime, {args.threads} threads, median of {args.rounds} rounds")
    print(f"{'batch':>6} {names['reference']:>24} {names['fast']:>24} {'ratio':>7}")
    for batch, row in table.items():
        print(f"{batch:>6} {row['reference_crops_per_s']:>24.0f} {row['fast_crops_per_s']:>24.0f} {row['ratio']:>7.2f}")
    verdict = "meets" if report["meets_target"] else "MISSES"
    print(f"ratio at batch 256: {ratio_256:.2f} ({verdict} the >= {TARGET_RATIO:g} target); written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
