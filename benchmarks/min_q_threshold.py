"""What the execute node's `min_q` would refuse, judged by grasp outcomes in the sim (the candidate census).

For each census scene (benchmarks/results/sim_candidates.json, written by benchmarks.sim_candidates) the planner's
pick is the top-q candidate and the census knows whether it held. For each threshold this counts the picks that
would execute, how many of them hold, and how many holding picks the threshold refuses. `min_q` in
config/yumi_bridge.yaml (MotionConfig's default) is chosen from this table: the threshold that refuses no pick that
holds while the model's q does not separate sim outcomes.

    python -m benchmarks.min_q_threshold [--census benchmarks/results/sim_candidates.json]

Writes benchmarks/results/min_q_threshold.json and prints the table. Rerun after a new census (model v2).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
THRESHOLDS = (0.0, 0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7)


def threshold_table(census: dict) -> dict:
    """Per census set and threshold: picks executed, held among them, held picks refused, failing picks refused."""
    table = {}
    for name, census_set in census["sets"].items():
        picks = [scene for scene in census_set["per_scene"] if scene["top_q"] is not None]
        rows = []
        for threshold in THRESHOLDS:
            executed = [scene for scene in picks if scene["top_q"] >= threshold]
            refused = [scene for scene in picks if scene["top_q"] < threshold]
            rows.append({"min_q": threshold, "scenes": len(census_set["per_scene"]), "executed": len(executed),
                         "held": sum(scene["top_q_success"] for scene in executed),
                         "refused_but_held": sum(scene["top_q_success"] for scene in refused),
                         "refused_and_failed": sum(not scene["top_q_success"] for scene in refused)})
        table[name] = {"auc_q_vs_sim_success": census_set["auc_q_vs_sim_success"],
                       "mean_within_scene_auc": census_set["mean_within_scene_auc"], "rows": rows}
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--census", default=str(RESULTS / "sim_candidates.json"))
    args = parser.parse_args(argv)
    census = json.loads(Path(args.census).read_text())
    table = threshold_table(census)
    for name, result in table.items():
        print(f"{name}: AUC of q over all candidates {result['auc_q_vs_sim_success']:.2f}, "
              f"within scenes {result['mean_within_scene_auc']:.2f}")
        print("  min_q  executed  held  refused_but_held  refused_and_failed")
        for row in result["rows"]:
            print(f"  {row['min_q']:5.2f}  {row['executed']:4d}/{row['scenes']:<3d}  {row['held']:4d}  "
                  f"{row['refused_but_held']:16d}  {row['refused_and_failed']:18d}")
    out = RESULTS / "min_q_threshold.json"
    model = Path(census.get("model", "")).name  # the file name: no path of the machine that ran the census
    out.write_text(json.dumps({"census": Path(args.census).name, "model": model, "sets": table}, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
