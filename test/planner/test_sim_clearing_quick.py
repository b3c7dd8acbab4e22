"""benchmarks.sim_clearing in its CI mode: one heap, every method, census, reports, resume."""

import json

from benchmarks import sim_clearing


def test_quick_mode_clears_a_heap_with_every_method_and_resumes(heuristic_model_path, tmp_path, capsys):
    args = ["--quick", "--model", str(heuristic_model_path), "--out-dir", str(tmp_path), "--workers", "1"]
    assert sim_clearing.main(args) == 0
    report = json.loads((tmp_path / "sim_clearing.json").read_text())
    assert report["preset"] == "paper" and report["sizes"] == [3]
    table = report["table"]["3"]
    assert set(sim_clearing.METHODS) <= set(table)
    for method in sim_clearing.METHODS:
        m = table[method]
        assert m["heaps"] == 1 and 1 <= m["attempts"] <= 6  # at most 2N attempts
        assert 0.0 <= m["clearance"] <= 1.0 and m["picked"] == round(m["success_per_attempt"] * m["attempts"])
        assert m["objects_left_curve"][0] == m["objects"] and len(m["objects_left_curve"]) == 7
    census = table["census"]
    assert census["candidates"] == 3 and sum(b["candidates"] for b in census["by_q"]) == 3
    [heap] = [json.loads(line) for line in (tmp_path / "sim_clearing_heaps.jsonl").read_text().splitlines()]
    for run in heap["runs"].values():
        attempts = run["attempts"]
        assert all(a["left"] <= run["objects"] for a in attempts)
        ended = attempts[-1]["left"] == 0 or len(attempts) == 6 or not any(a["success"] for a in attempts[-3:])
        assert ended  # empty, 2N attempts or 3 failures in a row
        planned = [a for a in attempts if a["cause"] != "no_grasp"]
        # The picked segment is named; with nothing segmented (0 segments) the planner took the whole image.
        assert all(1 <= a["segment_id"] <= a["segments"] or a["segment_id"] == a["segments"] == 0 for a in planned)
        assert all(a["held"] is not None for a in attempts if a["success"])
    assert (tmp_path / "sim_clearing.md").read_text().startswith("| heap size | method |")
    assert (tmp_path / "sim_clearing_curves.png").stat().st_size > 1000
    capsys.readouterr()
    assert sim_clearing.main([*args, "--resume"]) == 0  # nothing left to run: the logged heap is reused
    assert "heaps: 0heap" in capsys.readouterr().err
    assert json.loads((tmp_path / "sim_clearing.json").read_text())["table"] == report["table"]
