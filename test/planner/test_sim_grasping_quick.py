"""benchmarks/sim_grasping.py in its CI mode: every method and the ROS-action configuration run end to end."""

import importlib
import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def test_quick_mode_runs_all_methods_and_writes_its_reports(heuristic_model_path, tmp_path):
    sys.path.insert(0, str(BENCHMARKS))  # importable by name, also in the spawned worker processes
    module = importlib.import_module("sim_grasping")
    assert module.main(["--quick", "--model", str(heuristic_model_path), "--out-dir", str(tmp_path),
                        "--workers", "1"]) == 0
    report = json.loads((tmp_path / "sim_grasping.json").read_text())
    assert set(report["table"]) == {"known", "novel"}
    for group, methods in report["table"].items():
        assert set(module.METHODS) <= set(methods), group
        for m in methods.values():
            assert m["trials"] == 1 and 0.0 <= m["success_rate"] <= 1.0
    assert "cem_ros" in report["table"]["novel"]
    assert report["table"]["novel"]["oracle"]["success_rate"] == 1.0  # the analytic oracle grasps this object
    assert (tmp_path / "sim_grasping.md").read_text().startswith("| set | method |")
    assert (tmp_path / "sim_grasping_success.png").stat().st_size > 1000
    failed = any(not r["success"] for line in (tmp_path / "sim_grasping_trials.jsonl").read_text().splitlines()
                 for t in json.loads(line)["trials"] for r in t["methods"].values() if r["cause"] != "no_grasp")
    assert (tmp_path / "sim_grasping_failures.png").is_file() == failed  # the gallery shows failed executions


def test_candidate_census_executes_every_scored_candidate(heuristic_model_path, tmp_path):
    sys.path.insert(0, str(BENCHMARKS))
    module = importlib.import_module("sim_candidates")
    assert module.main(["--objects", "1", "--trials", "1", "--workers", "1",
                        "--model", str(heuristic_model_path), "--out-dir", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "sim_candidates.json").read_text())
    for group in ("known", "novel"):
        summary = report["sets"][group]
        assert summary["candidates"] > 0
        assert sum(b["candidates"] for b in summary["by_q"]) == summary["candidates"]
        assert 0.0 <= summary["candidate_success_rate"] <= 1.0


def test_sim_overrides_are_typed_and_bad_ones_refused(capsys):
    sys.path.insert(0, str(BENCHMARKS))
    module = importlib.import_module("sim_grasping")
    assert module.parse_sim_overrides(["finger_friction=0.5", "sim_registration_error=0.002,0.001",
                                       "coacd_max_parts=8"]) == {
        "sim_finger_friction": 0.5, "sim_registration_error": (0.002, 0.001), "sim_coacd_max_parts": 8}
    for bad, message in (("friction=0.5", "expected NAME=VALUE"), ("seed=3", "expected NAME=VALUE"),
                         ("finger_friction=soft", "not a float"), ("finger_friction=nan", "not a finite"),
                         ("registration_error=-0.001,0", "standard deviations")):
        with pytest.raises(ValueError, match=message):
            module.parse_sim_overrides([bad])
    assert module.main(["--sim", "friction=0.5"]) == 2
    assert "expected NAME=VALUE" in capsys.readouterr().err


def test_no_collision_check_mode_is_recorded_and_skips_the_ros_trials(heuristic_model_path, tmp_path):
    sys.path.insert(0, str(BENCHMARKS))
    module = importlib.import_module("sim_grasping")
    assert module.main(["--quick", "--no-collision-check", "--methods", "random", "--model", str(heuristic_model_path),
                        "--out-dir", str(tmp_path), "--workers", "1"]) == 0
    report = json.loads((tmp_path / "sim_grasping.json").read_text())
    assert report["collision_check"] is False
    assert set(report["table"]["novel"]) == {"random"}  # the planner node always checks: no cem_ros rows
