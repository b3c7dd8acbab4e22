"""`dexnet inspect DIR`: dataset statistics and a PNG mosaic of positive and negative crops.

(Named `inspection` so it does not shadow the standard library's `inspect` module.)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from dexnet import dataset
from gqcnn_core.sensor import SENSOR_PRESETS


def collect(dataset_dir: Path, max_per_class: int = 32, seed: int = 0) -> dict:
    """Stats over all shards (read one at a time) and a random sample of positive and negative crops."""
    rng = np.random.default_rng(seed)
    eqs, collisions, kinds, presets, points = [], [], [], [], 0
    samples: dict[bool, list[tuple[float, np.ndarray, float]]] = {True: [], False: []}
    seen = {True: 0, False: 0}
    for split in dataset.SPLITS:
        fields = ("crops", "robust_eq", "collision", "gripper_depth", "scene_kind", "sensor_preset")
        for shard in dataset.iter_split(dataset_dir, split, fields):
            label = dataset.labels(shard["robust_eq"], shard["collision"])
            eqs.append(shard["robust_eq"])
            collisions.append(shard["collision"])
            kinds.append(shard["scene_kind"])
            presets.append(shard["sensor_preset"])
            points += len(label)
            for i in range(len(label)):  # reservoir sampling keeps memory bounded for any dataset size
                cls = bool(label[i])
                seen[cls] += 1
                slot = len(samples[cls]) if len(samples[cls]) < max_per_class else rng.integers(seen[cls])
                if slot < max_per_class:
                    item = (float(shard["robust_eq"][i]), shard["crops"][i], float(shard["gripper_depth"][i]))
                    if slot == len(samples[cls]):
                        samples[cls].append(item)
                    else:
                        samples[cls][slot] = item
    eq = np.concatenate(eqs) if eqs else np.zeros(0)
    collision = np.concatenate(collisions) if collisions else np.zeros(0, bool)
    kind = np.concatenate(kinds) if kinds else np.zeros(0, np.int8)
    preset = np.concatenate(presets) if presets else np.zeros(0, np.int8)
    return {"datapoints": points, "robust_eq": eq, "collision": collision, "scene_kind": kind,
            "sensor_preset": preset, "samples": samples}


def write_mosaic(samples: dict, path: Path, columns: int = 8) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows_per_class = max(1, int(np.ceil(max(len(samples[True]), len(samples[False]), 1) / columns)))
    fig, axes = plt.subplots(2 * rows_per_class, columns, figsize=(columns * 1.3, 2 * rows_per_class * 1.45))
    axes = np.atleast_2d(axes)
    for ax in axes.ravel():
        ax.axis("off")
    for block, cls in enumerate((True, False)):
        for i, (eq, crop, depth) in enumerate(sorted(samples[cls], key=lambda s: -s[0])):
            ax = axes[block * rows_per_class + i // columns, i % columns]
            ax.imshow(crop, cmap="viridis", vmin=depth - 0.04, vmax=depth + 0.03)
            ax.set_title(f"{'+' if cls else '-'} EQ {eq:.4f}", fontsize=7, color="green" if cls else "red")
    fig.suptitle("positive (top) and negative (bottom) crops; colour range: gripper depth -4/+3 cm", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_cli(args: argparse.Namespace) -> int:
    manifest = dataset.load_manifest(args.dataset)
    if "counts" not in manifest:
        raise ValueError(f"{args.dataset}: not written by `dexnet generate` (no generation counts in its manifest; "
                         "an executed-grasp dataset?): `dexnet evaluate MODEL DATASET` measures a model on it")
    stats = collect(args.dataset, args.samples)
    counts = manifest["counts"]
    eq, collision = stats["robust_eq"], stats["collision"]
    positives = int(dataset.labels(eq, collision).sum())
    crop = manifest["crop"]
    print(
        f"dataset {args.dataset}: {manifest['code_version']}, seed {manifest['seed']}, "
        f"crop {crop['crop_size']}->{crop['out_size']} ({crop['transform_version']})"
    )
    print(
        f"objects: {counts['objects_done']} done, {counts['objects_skipped']} skipped, "
        f"{counts['objects_pending']} pending"
    )
    for split, c in counts["by_split"].items():
        rate = 100 * c["positives"] / c["datapoints"] if c["datapoints"] else 0.0
        print(f"  {split:5s}: {c['objects']:5d} objects {c.get('heaps', 0):5d} heaps {c['datapoints']:9d} datapoints  "
              f"{rate:5.1f}% positive")
    if stats["datapoints"]:
        q = np.percentile(eq, [10, 50, 90])
        print(
            f"datapoints: {stats['datapoints']}, positive rate {100 * positives / stats['datapoints']:.1f}% "
            f"(paper: 21.2%), collisions {100 * collision.mean():.1f}%, robust EQ > 0: {100 * (eq > 0).mean():.1f}%"
        )
        print(f"robust EQ percentiles 10/50/90: {q[0]:.5f} / {q[1]:.5f} / {q[2]:.5f}")
        label = dataset.labels(eq, collision)
        groups = [(f"scene {name}", stats["scene_kind"] == value) for value, name in enumerate(("single", "heap"))]
        groups += [(f"sensor {name}", stats["sensor_preset"] == value) for value, name in enumerate(SENSOR_PRESETS)]
        for name, chosen in groups:
            if chosen.any():
                print(f"  {name:24s} {100 * chosen.mean():5.1f}% of datapoints, {100 * label[chosen].mean():5.1f}% "
                      f"positive")
    out = Path(args.out) if args.out else Path(args.dataset) / "inspect_mosaic.png"
    write_mosaic(stats["samples"], out)
    print(f"mosaic: {out}")
    return 0


def register_cli(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("inspect", help="print dataset statistics and write a PNG mosaic of crops")
    p.add_argument("dataset", type=Path, help="dataset directory")
    p.add_argument("--out", type=Path, help="mosaic PNG path (default: DATASET/inspect_mosaic.png)")
    p.add_argument("--samples", type=int, default=32, help="crops per class in the mosaic")
    p.set_defaults(func=run_cli)
