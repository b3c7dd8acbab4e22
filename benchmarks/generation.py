"""Dataset generation throughput: labelled datapoints per second, v1 (Dex-Net 2.0) vs v2 scenes, same objects.

    python benchmarks/generation.py [--objects 20] [--workers 2] [--variants v1 v2]

v1 = every object 4 cm smallest side, the paper's camera sphere, ideal depth, no heaps; v2 = the default
GenerationConfig (drawn scale, mount cameras, sensor presets, heaps). Writes benchmarks/results/generation.json
with datapoints/s, positive rate, share of heap datapoints and the projected time for all 1000 pybullet
objects. Figures depend on what else the machine runs; the load average is recorded beside them.
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
from dataclasses import asdict
from pathlib import Path

from dexnet.generate import DEFAULT_GRIPPER, GenerationConfig, generate, list_objects

RESULTS = Path(__file__).resolve().parent / "results"
VARIANTS = {
    "v1": {"scale": "fixed", "camera_poses": "dexnet2", "sensor_presets": ("ideal",), "heaps_per_object": 0.0},
    "v2": {},
}


def run(objects, workers: int, config: GenerationConfig) -> dict:
    out = Path(tempfile.mkdtemp(prefix=f"dexnet_bench_{workers}w_"))
    load_before = os.getloadavg()[0]
    try:
        start = time.perf_counter()
        manifest = generate(out / "ds", config, objects, str(DEFAULT_GRIPPER), workers=workers, progress=True)
        seconds = time.perf_counter() - start
    finally:
        shutil.rmtree(out, ignore_errors=True)
    counts = manifest["counts"]
    return {"workers": workers, "seconds": round(seconds, 1), "datapoints": counts["datapoints"],
            "datapoints_per_s": round(counts["datapoints"] / seconds, 1), "positive_rate": manifest["positive_rate"],
            "heap_fraction": round(counts["heap_fraction"], 3), "heaps": counts["by_kind"]["heap"]["scenes"],
            "objects_done": counts["objects_done"], "objects_skipped": counts["objects_skipped"],
            "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
            "skip_reasons": sorted({o["reason"] for o in manifest["objects"] if o["status"] == "skipped"})}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=20, help="first N pybullet objects")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--variants", nargs="+", choices=sorted(VARIANTS), default=["v1", "v2"])
    parser.add_argument("--images-per-pose", type=int, help="override for both variants")
    parser.add_argument("--heap-images", type=int, help="override for v2")
    parser.add_argument("--out", type=Path, default=RESULTS / "generation.json")
    args = parser.parse_args(argv)
    objects = list_objects(True, None, args.objects)
    runs = {}
    for name in args.variants:
        overrides = dict(VARIANTS[name])
        if args.images_per_pose:
            overrides["images_per_pose"] = args.images_per_pose
        if args.heap_images and name == "v2":
            overrides["heap_images"] = args.heap_images
        config = GenerationConfig(**overrides)
        result = run(objects, args.workers, config)
        result["config"] = json.loads(json.dumps(asdict(config)))
        result["projected_minutes_1000_objects"] = round(1000 / args.objects * result["seconds"] / 60, 1)
        runs[name] = result
        print(f"{name}: {result['datapoints']} datapoints in {result['seconds']} s = {result['datapoints_per_s']} /s "
              f"with {args.workers} workers, positive rate {100 * result['positive_rate']:.1f}%, heaps "
              f"{100 * result['heap_fraction']:.0f}% of datapoints, {result['objects_skipped']} skipped; "
              f"1000 objects: ~{result['projected_minutes_1000_objects']} min (load {result['load_average']})")
    report = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()}, "objects": args.objects,
              "runs": runs, "paper_positive_rate": 0.212}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, default=str))
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
