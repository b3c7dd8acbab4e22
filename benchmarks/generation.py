"""Dataset generation throughput: labelled datapoints per second with 1 and 2 workers on the same objects.

    python benchmarks/generation.py [--objects 20]

Writes benchmarks/results/generation.json. Target (issue 3): >= 150 datapoints/s on 2 cores, so that all
1000 pybullet objects generate in <= 2 h. Also reports the positive rate (paper: 21.2 %).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

from dexnet.generate import DEFAULT_GRIPPER, GenerationConfig, generate, list_objects

RESULTS = Path(__file__).resolve().parent / "results"


def run(objects, workers: int, config: GenerationConfig) -> dict:
    out = Path(tempfile.mkdtemp(prefix=f"dexnet_bench_{workers}w_"))
    try:
        start = time.perf_counter()
        manifest = generate(out / "ds", config, objects, str(DEFAULT_GRIPPER), workers=workers, progress=True)
        seconds = time.perf_counter() - start
    finally:
        shutil.rmtree(out, ignore_errors=True)
    counts = manifest["counts"]
    return {"workers": workers, "seconds": round(seconds, 1), "datapoints": counts["datapoints"],
            "datapoints_per_s": round(counts["datapoints"] / seconds, 1), "positive_rate": manifest["positive_rate"],
            "objects_done": counts["objects_done"], "objects_skipped": counts["objects_skipped"],
            "skip_reasons": sorted({o["reason"] for o in manifest["objects"] if o["status"] == "skipped"})}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=20, help="first N pybullet objects")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--out", type=Path, default=RESULTS / "generation.json")
    args = parser.parse_args(argv)
    config = GenerationConfig()
    objects = list_objects(True, None, args.objects)
    runs = [run(objects, w, config) for w in args.workers]
    best = max(r["datapoints_per_s"] for r in runs)
    report = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "objects": args.objects, "config": config.__dict__, "runs": runs,
        "target_datapoints_per_s": 150, "meets_target": best >= 150,
        "projected_hours_1000_objects": round(1000 / args.objects * min(r["seconds"] for r in runs) / 3600, 2),
        "paper_positive_rate": 0.212,
    }
    for r in runs:
        print(f"{r['workers']} worker(s): {r['datapoints']} datapoints in {r['seconds']} s = "
              f"{r['datapoints_per_s']} /s, positive rate {100 * r['positive_rate']:.1f}% "
              f"({r['objects_done']} objects, {r['objects_skipped']} skipped)")
    if len(runs) > 1:
        print(f"speed-up {runs[-1]['workers']} vs {runs[0]['workers']} workers: "
              f"{runs[-1]['datapoints_per_s'] / max(runs[0]['datapoints_per_s'], 1e-9):.2f}x (same run)")
    print(f"projected for 1000 objects: {report['projected_hours_1000_objects']} h")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, default=str))
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
