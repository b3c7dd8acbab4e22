"""dexnet generate end to end on small analytic meshes: contents, determinism across workers, resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import trimesh
import yaml

from dexnet import dataset
from dexnet.cli import main as dexnet_main
from dexnet.generate import GenerationConfig, generate, list_objects

SMALL = {"max_grasps": 20, "quality_samples": 5, "images_per_pose": 2, "max_stable_poses": 2, "heap_images": 2,
         "heaps_per_object": 2.0, "heap_sizes": (1, 2)}


@pytest.fixture(scope="module")
def mesh_dir(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("meshes")
    trimesh.creation.box((0.03, 0.05, 0.08)).export(directory / "box.obj")
    trimesh.creation.cylinder(radius=0.02, height=0.06, sections=32).export(directory / "cylinder.stl")
    trimesh.creation.box((0.02, 0.04, 0.03)).export(directory / "small_box.ply")
    (directory / "broken.obj").write_text("v 0 0 0\nv 1 0 0\nf 1 2 3\n")
    return directory


def shards(out: Path) -> dict[int, dict[str, np.ndarray]]:
    manifest = dataset.load_manifest(out)
    return {o["id"]: dataset.read_shard(out / o["shard"]) for o in manifest["objects"]
            if o["status"] == "done" and o["count"] > 0}


@pytest.fixture(scope="module")
def one_worker(mesh_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("one") / "ds"
    config = GenerationConfig(**SMALL)
    generate(out, config, list_objects(False, mesh_dir, None), workers=1, progress=False)
    return out


def test_dataset_contents_and_manifest(one_worker):
    manifest = dataset.load_manifest(one_worker)
    by_name = {o["name"]: o for o in manifest["objects"]}
    assert by_name["user/broken.obj"]["status"] == "skipped" and by_name["user/broken.obj"]["reason"]
    done = [o for o in manifest["objects"] if o["status"] == "done" and o["kind"] == "object"]
    assert len(done) == 3
    heaps = [o for o in manifest["objects"] if o["kind"] == "heap" and o["status"] == "done"]
    assert heaps and manifest["counts"]["by_kind"]["heap"]["datapoints"] > 0
    assert manifest["counts"]["datapoints"] == sum(o["count"] for o in done + heaps) > 0
    assert {o["split"] for o in manifest["objects"]} <= set(dataset.SPLITS)
    assert manifest["crop"]["transform_version"] and manifest["config"]["max_grasps"] == 20
    for data in shards(one_worker).values():
        n = dataset.check_shard(data)
        assert data["crops"].shape == (n, 32, 32) and np.isfinite(data["crops"]).all()
        # crops are depth around the grasp: the gripper depth lies within the crop's depth range (+- offsets)
        assert np.all(data["gripper_depth"] > data["crops"].min(axis=(1, 2)) - 0.01)
        assert np.all((data["width"] > 0) & (data["width"] <= 0.05))
        assert set(np.unique(data["sensor_preset"])) <= {0, 1, 2}
        assert np.all((data["camera_height"] >= 0.5) & (data["camera_height"] <= 0.9))
        assert np.all(np.degrees(data["camera_tilt"]) <= 25.0 + 1e-3)
    assert 0.0 <= manifest["positive_rate"] <= 1.0
    # The camera the model card records: focal length and the gripper depths the crops were rendered at.
    camera = manifest["camera"]
    assert camera["fx"] == 525.0 and camera["height_range_m"] == [0.5, 0.9]
    assert 0.3 < camera["depth_range_m"][0] < camera["depth_range_m"][1] < 1.0
    # Each object's drawn scale is recorded: smallest side within 1-6 cm (or shrunk to fit 25 cm).
    for o in done:
        assert 0.004 <= o["extents_m"][0] <= 0.06 and o["extents_m"][2] <= 0.25 + 1e-6


def test_heaps_hold_one_split_and_label_grasps_on_their_own_objects(one_worker):
    manifest = dataset.load_manifest(one_worker)
    split_of = {o["id"]: o["split"] for o in manifest["objects"] if o["kind"] == "object"}
    data = shards(one_worker)
    for heap in (o for o in manifest["objects"] if o["kind"] == "heap" and o["status"] == "done"):
        assert {split_of[i] for i in heap["objects"]} == {heap["split"]}  # the object-wise split holds
        rows = data[heap["id"]]
        assert np.all(rows["scene_kind"] == 1) and np.all(rows["heap_id"] == heap["id"] - dataset.HEAP_ID_OFFSET)
        assert set(np.unique(rows["object_id"])) <= set(heap["objects"])
        # A heap grasp keeps the robust quality its object's grasp has in the object's own precomputation.
        for object_id in np.unique(rows["object_id"]):
            with np.load(one_worker / "objects" / f"obj_{object_id:06d}.npz") as cache:
                mine = rows["object_id"] == object_id
                np.testing.assert_array_equal(rows["robust_eq"][mine], cache["robust_eq"][rows["grasp_id"][mine]])
    singles = [d for key, d in data.items() if key < dataset.HEAP_ID_OFFSET]
    assert all(np.all(d["scene_kind"] == 0) and np.all(d["heap_id"] == -1) for d in singles)


def test_two_workers_give_the_same_dataset(one_worker, mesh_dir, tmp_path):
    out = tmp_path / "ds"
    generate(out, GenerationConfig(**SMALL), list_objects(False, mesh_dir, None), workers=2, progress=False)
    a, b = shards(one_worker), shards(out)
    assert a.keys() == b.keys()
    for object_id in a:
        for key in dataset.FIELDS:
            np.testing.assert_array_equal(a[object_id][key], b[object_id][key], err_msg=key)
    strip = lambda m: {k: v for k, v in m.items() if k != "code_version"}  # noqa: E731
    assert strip(dataset.load_manifest(one_worker)) == strip(dataset.load_manifest(out))


def test_killed_run_resumes_without_loss_or_duplicates(one_worker, mesh_dir, tmp_path):
    out = tmp_path / "ds"
    config_file = tmp_path / "small.yaml"
    config_file.write_text(yaml.safe_dump(SMALL))
    cmd = [sys.executable, "-m", "dexnet.cli", "generate", "--out", str(out), "--no-pybullet", "--mesh-dir",
           str(mesh_dir), "--config", str(config_file), "--workers", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and not list((out / dataset.SHARD_DIR).glob("obj_*.npz")):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole process group: driver, scheduler and worker
    proc.wait()
    assert list((out / dataset.SHARD_DIR).glob("obj_*"))
    assert dexnet_main([*cmd[3:], "--resume"]) == 0
    a, b = shards(one_worker), shards(out)
    assert a.keys() == b.keys()
    for object_id in a:
        np.testing.assert_array_equal(a[object_id]["crops"], b[object_id]["crops"])
    assert not list((out / dataset.SHARD_DIR).glob(".*.tmp"))
    # Entries of objects finished before the kill keep every field (scale, extents) in the manifest.
    strip = lambda m: {k: v for k, v in m.items() if k != "code_version"}  # noqa: E731
    assert strip(dataset.load_manifest(one_worker)) == strip(dataset.load_manifest(out))


def test_existing_dataset_needs_resume_and_same_config(one_worker, mesh_dir, capsys):
    args = ["generate", "--out", str(one_worker), "--no-pybullet", "--mesh-dir", str(mesh_dir)]
    assert dexnet_main(args) == 2  # bad input (the CLI convention)
    assert "--resume" in capsys.readouterr().err
    assert dexnet_main([*args, "--resume", "--max-grasps", "7"]) == 2
    assert "different configuration" in capsys.readouterr().err


def test_inspect_prints_stats_and_writes_a_mosaic(one_worker, capsys, tmp_path):
    assert dexnet_main(["inspect", str(one_worker)]) == 0
    out = capsys.readouterr().out
    assert "positive rate" in out and "mosaic" in out
    assert (one_worker / "inspect_mosaic.png").stat().st_size > 1000
    # A dataset not written by `dexnet generate` (executed grasps): one line and exit 2, not a traceback.
    dataset.write_manifest(tmp_path, {"format_version": dataset.FORMAT_VERSION, "objects": []})
    assert dexnet_main(["inspect", str(tmp_path)]) == 2
    assert "not written by `dexnet generate`" in capsys.readouterr().err


def test_resume_with_fewer_objects_rebuilds_heaps_whose_objects_changed(one_worker, mesh_dir, tmp_path):
    import shutil

    out = tmp_path / "ds"
    shutil.copytree(one_worker, out)
    objects = [o for o in list_objects(False, mesh_dir, None) if o.name != "user/cylinder.stl"]
    manifest = generate(out, GenerationConfig(**SMALL), objects, workers=1, progress=False, resume=True)
    kept = {o.id for o in objects}
    for heap in (o for o in manifest["objects"] if o["kind"] == "heap" and o["status"] == "done" and o["count"]):
        assert set(heap["objects"]) <= kept
        rows = dataset.read_shard(out / heap["shard"], ("object_id",))
        assert set(rows["object_id"].tolist()) <= set(heap["objects"])


def test_split_option_generates_only_that_splits_objects(mesh_dir, tmp_path):
    out = tmp_path / "ds"
    config_file = tmp_path / "v1.yaml"
    config_file.write_text(yaml.safe_dump(SMALL | {"heaps_per_object": 0, "scale": "fixed",
                                                   "camera_poses": "dexnet2", "sensor_presets": ["ideal"]}))
    objects = list_objects(False, mesh_dir, None)
    split = objects[0].split
    args = ["generate", "--out", str(out), "--no-pybullet", "--mesh-dir", str(mesh_dir), "--config", str(config_file),
            "--workers", "1", "--split", split]
    assert dexnet_main(args) == 0
    manifest = dataset.load_manifest(out)
    assert {o["name"] for o in manifest["objects"]} == {o.name for o in objects if o.split == split}
    assert {o["id"] for o in manifest["objects"]} <= {o.id for o in objects}  # ids as in the full list
    assert manifest["config"]["sensor_presets"] == ["ideal"] and manifest["counts"]["by_kind"]["heap"]["scenes"] == 0
    for data in shards(out).values():
        assert np.all(data["sensor_preset"] == 0) and np.all(data["scene_kind"] == 0)
