"""A tiny synthetic Dex-Net dataset with a learnable signal, and `dexnet` run with only the training subcommands.

Successful grasps have an object (a depth bump) centred between the jaws, failed ones have it off to one side.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dexnet import cli, dataset
from gqcnn_core.crop import CROP_TRANSFORM_VERSION

OBJECTS, PER_OBJECT = 10, 48


def write_synthetic_dataset(root: Path, seed: int = 0, executed: bool = False) -> Path:
    """With `executed`, every grasp also carries an executed outcome, the opposite of its Dex-Net label (robust_eq):
    a dataset whose labels can only be learned from the outcomes."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:32, 0:32] - 15.5
    records = []
    for object_id in range(OBJECTS):
        n = PER_OBJECT
        centred = rng.random(n) < 0.3
        offset = np.where(centred, 0.0, rng.choice([-1, 1], n) * rng.uniform(6, 10, n))
        success = centred ^ (rng.random(n) < 0.04)  # a few wrong labels: no split is perfectly separable
        depth = rng.uniform(0.55, 0.75, n).astype(np.float32)
        bump = 0.03 * np.exp(-((cols[None] - offset[:, None, None]) ** 2 + rows[None] ** 2) / 20.0)
        arrays = dataset.empty_shard()
        arrays.update(
            crops=(depth[:, None, None] + 0.02 - bump).astype(np.float32),
            gripper_depth=depth,
            robust_eq=np.where(success, 0.004, 0.001).astype(np.float32),
            collision=np.zeros(n, bool),
            object_id=np.full(n, object_id, np.int32),
            stable_pose_id=np.zeros(n, np.int32),
            image_id=np.zeros(n, np.int32),
            grasp_id=np.arange(n, dtype=np.int32),
            center_px=np.zeros((n, 2), np.float32),
            angle=np.zeros(n, np.float32),
            width=np.full(n, 0.05, np.float32),
            width_px=np.full(n, 20.0, np.float32),
        )
        # Fields added by later dataset formats (heaps, sensor presets): alternate values so evaluations per
        # group have something to split; any other new field gets zeros.
        groups = {"scene_kind": object_id % 2, "sensor_preset": np.arange(n) % 2,
                  "executed": (~success).astype(np.int8) if executed else -1}
        for key, dtype in dataset.FIELDS.items():
            if len(arrays[key]) == 0 and key != "crops":
                arrays[key] = np.zeros(n, dtype) + np.asarray(groups.get(key, 0)).astype(dtype)
        shard = dataset.shard_name(object_id)
        dataset.write_shard(root / shard, arrays)
        split = {3: "val", 4: "test"}.get(object_id % 5, "train")
        records.append(
            {"id": object_id, "name": f"obj{object_id}", "split": split, "status": "done", "shard": shard, "count": n}
        )
    manifest = {
        "format_version": dataset.FORMAT_VERSION,
        "objects": records,
        "crop": {"crop_size": 96, "out_size": 32, "transform_version": CROP_TRANSFORM_VERSION},
    }
    dataset.write_manifest(root, manifest)
    return root


def dexnet_main(argv: list[str]) -> int:
    """`dexnet ARGV` with only the subcommands under test here (the others' imports are not our concern)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cli, "SUBCOMMAND_MODULES", ("train", "evaluate", "export"))
        return cli.main(argv)
