"""One heap scene under each sensor preset (gqcnn_core.sensor): a PNG and the cost per 640x480 image.

    python benchmarks/sensor_presets.py [--objects 5] [--seed 0]

Writes benchmarks/results/sensor_presets.png (gitignored: depth under ideal, structured_light and
active_stereo, missing pixels in red) and benchmarks/results/sensor_presets.json (missing-pixel share and
milliseconds per full image for each preset).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=5, help="objects in the heap (first pybullet test objects)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=10, help="timed applications per preset")
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dexnet import dataset
    from dexnet.generate import DEFAULT_GRIPPER, GenerationConfig
    from dexnet.heaps import heap_mesh, settle_heap
    from dexnet.mesh import MeshError, load_object, pybullet_object_paths, sample_target_min_extent
    from gqcnn_core.gripper import load_gripper
    from gqcnn_core.render import ObjectRenderer, look_at
    from gqcnn_core.sensor import SENSOR_PRESETS, apply_sensor

    rng = np.random.default_rng(args.seed)
    gripper = load_gripper(DEFAULT_GRIPPER)
    meshes = []
    for path in pybullet_object_paths():
        if len(meshes) == args.objects:
            break
        if dataset.object_split(f"pybullet/{path.stem}") != "test":
            continue
        try:
            meshes.append(load_object(path, gripper, target_min_extent=sample_target_min_extent(rng),
                                      fit_max_extent=True))
        except MeshError:
            continue
    world = heap_mesh(meshes, settle_heap(meshes, rng))
    camera = GenerationConfig().intrinsics
    world_camera = look_at(np.array([0.15, 0.0, 0.7]))  # 0.7 m high, 12 deg tilt
    ideal = ObjectRenderer(world, camera).render(world_camera, np.eye(4))

    report = {"scene": {"objects": len(meshes), "camera_height_m": 0.7, "image": [camera.width, camera.height]},
              "presets": {}}
    fig, axes = plt.subplots(1, len(SENSOR_PRESETS), figsize=(6 * len(SENSOR_PRESETS), 4.8))
    low, high = np.nanpercentile(ideal, [1, 99.5])
    for ax, preset in zip(axes, SENSOR_PRESETS, strict=True):
        start = time.perf_counter()
        for _ in range(args.repeats):
            sensed = apply_sensor(ideal, camera, preset, np.random.default_rng(args.seed))
        ms = 1000 * (time.perf_counter() - start) / args.repeats
        holes = ~np.isfinite(sensed)
        report["presets"][preset] = {"ms_per_image": round(ms, 1), "missing_fraction": round(float(holes.mean()), 4)}
        shown = np.dstack([np.clip((sensed - low) / (high - low), 0, 1)] * 3)
        shown[holes] = (1.0, 0.0, 0.0)
        ax.imshow(shown)
        ax.set_title(f"{preset}: {100 * holes.mean():.1f}% missing, {ms:.0f} ms")
        ax.axis("off")
        print(f"{preset:17s} {ms:6.1f} ms per 640x480 image, {100 * holes.mean():.1f}% missing")
    fig.tight_layout()
    RESULTS.mkdir(parents=True, exist_ok=True)
    fig.savefig(RESULTS / "sensor_presets.png", dpi=90)
    (RESULTS / "sensor_presets.json").write_text(json.dumps(report, indent=1))
    print(f"written {RESULTS / 'sensor_presets.png'} and {RESULTS / 'sensor_presets.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
