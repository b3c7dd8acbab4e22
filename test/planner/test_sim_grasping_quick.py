"""benchmarks.sim_grasping in its CI mode: every method and the ROS-action configuration run end to end."""

import json

import numpy as np
import pytest
import trimesh

from benchmarks import sim_candidates, sim_grasping
from benchmarks.sim_common import parse_sim_overrides, sim_settings


def test_quick_mode_runs_all_methods_and_writes_its_reports(heuristic_model_path, tmp_path):
    assert sim_grasping.main(["--quick", "--model", str(heuristic_model_path), "--out-dir", str(tmp_path),
                              "--workers", "1"]) == 0
    report = json.loads((tmp_path / "sim_grasping.json").read_text())
    assert report["preset"] == "paper"  # the paper's conditions are the default protocol
    assert report["sim_settings"]["sim_finger_friction_std"] > 0
    assert set(report["table"]) == {"known", "novel"}
    for group, methods in report["table"].items():
        assert set(sim_grasping.METHODS) <= set(methods), group
        for m in methods.values():
            assert m["trials"] == 1 and 0.0 <= m["success_rate"] <= 1.0
            assert m["median_q_of_successes"] is None or 0.0 <= m["median_q_of_successes"] <= 1.0
    assert "cem_ros" in report["table"]["novel"]
    assert (tmp_path / "sim_grasping.md").read_text().startswith("| set | method |")
    assert (tmp_path / "sim_grasping_success.png").stat().st_size > 1000
    failed = any(not r["success"] for line in (tmp_path / "sim_grasping_trials.jsonl").read_text().splitlines()
                 for t in json.loads(line)["trials"] for r in t["methods"].values() if r["cause"] != "no_grasp")
    assert (tmp_path / "sim_grasping_failures.png").is_file() == failed  # the gallery shows failed executions


def test_candidate_census_executes_every_scored_candidate(heuristic_model_path, tmp_path):
    assert sim_candidates.main(["--objects", "1", "--trials", "1", "--workers", "1", "--preset", "easy",
                                "--model", str(heuristic_model_path), "--out-dir", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "sim_candidates.json").read_text())
    assert report["preset"] == "easy"
    for group in ("known", "novel"):
        summary = report["sets"][group]
        assert summary["candidates"] > 0
        assert sum(b["candidates"] for b in summary["by_q"]) == summary["candidates"]
        assert 0.0 <= summary["candidate_success_rate"] <= 1.0


def test_census_saves_the_executed_candidates_as_a_dataset(heuristic_model_path, tmp_path):
    from dexnet import dataset
    from gqcnn_core.model import GQCNN

    out = tmp_path / "executed"
    args = ["--object-split", "val", "--objects", "1", "--trials", "1", "--first-trial", "1000", "--workers", "1",
            "--preset", "easy", "--model", str(heuristic_model_path), "--save-dataset", str(out)]
    assert sim_candidates.main(args) == 0
    summary = json.loads((out / "sim_candidates.json").read_text())["sets"]["val"]  # the report goes with the data
    manifest = dataset.load_manifest(out)
    assert manifest["count"] == summary["candidates"] > 0 and manifest["split_counts"]["val"] == manifest["count"]
    [shard] = dataset.split_shards(out, "val")
    rows = dataset.read_shard(shard)
    assert dataset.check_shard(rows) == manifest["count"]
    assert np.all(rows["image_id"] == 1000)  # scenes after the benchmark's own
    # The labels are the executed outcomes, and the crops are what the GQ-CNN scored, in the plan's order.
    labels = dataset.shard_labels(rows)
    assert labels.mean() == pytest.approx(summary["candidate_success_rate"])
    q = GQCNN.load(heuristic_model_path).predict(rows["crops"], rows["gripper_depth"])
    assert q[0] == pytest.approx(summary["per_scene"][0]["top_q"], abs=1e-6) and np.all(np.diff(q) <= 1e-6)
    assert bool(rows["executed"][0]) == summary["per_scene"][0]["top_q_success"]  # ranking's pick's outcome
    # A rerun finds the object done and only rewrites the manifest; other settings are refused.
    before = shard.stat().st_mtime_ns
    assert sim_candidates.main(args) == 0
    assert shard.stat().st_mtime_ns == before and dataset.load_manifest(out)["count"] == manifest["count"]
    assert sim_candidates.main([*args, "--trials", "2"]) == 2
    # The benchmark's own scenes never become training data.
    assert sim_candidates.main([a for a in args if a not in ("--object-split", "val")]) == 2


def test_presets_set_the_physical_conditions():
    easy, paper = sim_settings("easy"), sim_settings("paper")
    assert (easy.sim_finger_friction, easy.sim_finger_friction_std, easy.sim_sensor) == (0.8, 0.0, "gaussian_1mm")
    assert paper.sim_finger_friction == 0.5 and paper.sim_finger_friction_std == 0.1
    assert tuple(paper.sim_object_density_range) == (200.0, 1200.0)
    assert sim_settings("paper", {"sim_finger_friction": 0.3}).sim_finger_friction == 0.3  # --sim on top


def test_sim_overrides_are_typed_and_bad_ones_refused(capsys):
    assert parse_sim_overrides(["finger_friction=0.5", "sim_registration_error=0.002,0.001",
                                "coacd_max_parts=8"]) == {
        "sim_finger_friction": 0.5, "sim_registration_error": (0.002, 0.001), "sim_coacd_max_parts": 8}
    for bad, message in (("friction=0.5", "expected NAME=VALUE"), ("seed=3", "expected NAME=VALUE"),
                         ("finger_friction=soft", "not a float"), ("finger_friction=nan", "not a finite"),
                         ("registration_error=-0.001,0", "standard deviations")):
        with pytest.raises(ValueError, match=message):
            parse_sim_overrides([bad])
    assert sim_grasping.main(["--sim", "friction=0.5"]) == 2
    assert "expected NAME=VALUE" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        sim_grasping.main(["--preset", "hard"])


def test_a_run_without_a_loadable_object_exits_1_naming_the_reason(heuristic_model_path, tmp_path, capsys):
    meshes = tmp_path / "meshes"
    meshes.mkdir()
    (meshes / "empty.obj").write_text("# no faces\n")
    trimesh.creation.box((0.3, 0.3, 0.3)).export(meshes / "too_big.stl")  # 30 cm in metres: over the max extent
    code = sim_grasping.main(["--objects", "0", "--mesh-dir", str(meshes), "--keep-scale", "--ros-objects", "0",
                              "--methods", "random", "--model", str(heuristic_model_path),
                              "--out-dir", str(tmp_path / "out"), "--workers", "1"])
    err = [line for line in capsys.readouterr().err.replace("\r", "\n").splitlines()
           if line.strip() and not line.startswith("objects:")]  # tqdm's progress lines aside
    assert code == 1 and len(err) == 1 and "none of the 2 objects could be loaded" in err[0]


def test_skipped_meshes_are_listed_in_the_table_notes(heuristic_model_path, tmp_path):
    meshes = tmp_path / "meshes"
    meshes.mkdir()
    (meshes / "empty.obj").write_text("# no faces\n")
    assert sim_grasping.main(["--quick", "--mesh-dir", str(meshes), "--ros-objects", "0", "--methods", "random",
                              "--model", str(heuristic_model_path), "--out-dir", str(tmp_path), "--workers", "1"]) == 0
    report = json.loads((tmp_path / "sim_grasping.json").read_text())
    assert list(report["skipped"]) == ["user/empty"]
    notes = (tmp_path / "sim_grasping.md").read_text()
    assert "Skipped 1 object(s):" in notes and f"- user/empty: {report['skipped']['user/empty']}" in notes


def test_no_collision_check_mode_is_recorded_and_skips_the_ros_trials(heuristic_model_path, tmp_path):
    assert sim_grasping.main(["--quick", "--no-collision-check", "--methods", "random", "--model",
                              str(heuristic_model_path), "--out-dir", str(tmp_path), "--workers", "1"]) == 0
    report = json.loads((tmp_path / "sim_grasping.json").read_text())
    assert report["collision_check"] is False
    assert set(report["table"]["novel"]) == {"random"}  # the planner node always checks: no cem_ros rows
