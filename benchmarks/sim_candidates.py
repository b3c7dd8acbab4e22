"""Candidate census in simulation: how many of the planner's grasp candidates would succeed, and does q rank them?

For each scene of the grasping benchmark (same objects, seeds, noise and segmentation as sim_grasping.py), GQ-CNN
ranking plans exactly as in the benchmark and every candidate it scored is executed in the MuJoCo simulation, so
the top-q candidate is the ranking policy's pick and the candidates' mean is random antipodal's expectation.
This explains the benchmark's baselines: a policy can only beat random by as much as the candidates' success
rate leaves room for.

    python -m benchmarks.sim_candidates [--preset paper|easy] [--objects 20] [--trials 1] [--workers 2]

Writes benchmarks/results/sim_candidates.json: success of all candidates, by q bin, the GQ-CNN's AUC on sim
outcomes (over all candidates, and within scenes, where ranking acts), and per scene the top-q candidate's success
against the candidates' mean (random's expectation).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.sim_common import (
    DEFAULT_PRESET,
    RESULTS,
    load_benchmark_object,
    observe,
    parse_sim_overrides,
    presets,
    select_objects,
    sim_settings,
    worker_pool,
)

Q_BINS = (0.0, 0.02, 0.1, 0.3, 0.5, 1.0001)


def census_object(job: dict) -> dict:
    """Execute every candidate of every trial of one object (runs in a worker process)."""
    from dexnet.generate import DEFAULT_GRIPPER
    from dexnet.mesh import MeshError
    from gqcnn_core.gripper import load_gripper
    from gqcnn_core.model import GQCNN
    from gqcnn_planner.policies import PlanningError, PolicyConfig, plan
    from gqcnn_planner.sampling import SamplerConfig
    from yumi_bridge.motion import GraspRefusedError
    from yumi_bridge.sim import GraspSimulator

    gripper = load_gripper(DEFAULT_GRIPPER)
    try:
        mesh = load_benchmark_object(job["path"], gripper)
        sim = GraspSimulator(mesh, gripper=gripper, settings=sim_settings(job["preset"], job["sim_overrides"]))
    except (MeshError, RuntimeError, ValueError) as err:
        return {**job, "skipped": str(err), "scenes": []}
    model = GQCNN.load(job["model"], threads=1)
    config = PolicyConfig(gripper=gripper, top_k=SamplerConfig().max_candidates)  # return every scored one
    scenes = []
    for t in range(job["trials"]):
        scene, depth, mask, _ = observe(sim, job["name"], t)
        try:
            planned = plan("ranking", depth, scene.camera, model, np.random.default_rng(scene.seed), mask,
                           config=config)
        except PlanningError:
            scenes.append({"trial": t, "q": [], "success": []})
            continue
        successes = []
        for i in range(len(planned.candidates)):
            try:
                successes.append(bool(sim.run_grasp(scene, planned.candidates.grasp(i)).success))
            except GraspRefusedError:
                successes.append(False)
        scenes.append({"trial": t, "q": [float(q) for q in planned.q_values], "success": successes})
    return {**job, "scenes": scenes}


def summarise(records: list[dict]) -> dict:
    from sklearn.metrics import roc_auc_score

    q = np.array([v for r in records for s in r["scenes"] for v in s["q"]])
    ok = np.array([v for r in records for s in r["scenes"] for v in s["success"]], dtype=bool)
    scenes = [{"name": r["name"], **s} for r in records for s in r["scenes"]]
    scored = [s for s in scenes if s["q"]]
    # Within a scene is where ranking acts: does q order that scene's candidates (mixed outcomes only)?
    within = [roc_auc_score(s["success"], s["q"]) for s in scored if 0 < sum(s["success"]) < len(s["success"])]
    bins = []
    for lo, hi in itertools.pairwise(Q_BINS):
        inside = (q >= lo) & (q < hi)
        bins.append({"q_from": lo, "q_to": min(hi, 1.0), "candidates": int(inside.sum()),
                     "success_rate": float(ok[inside].mean()) if inside.any() else None})
    return {
        "scenes": len(scenes), "scenes_without_candidates": len(scenes) - len(scored),
        "scenes_without_a_successful_candidate": sum(not any(s["success"]) for s in scored),
        "candidates": len(q), "candidate_success_rate": float(ok.mean()) if len(ok) else None,
        "auc_q_vs_sim_success": float(roc_auc_score(ok, q)) if 0 < ok.sum() < len(ok) else None,
        "by_q": bins,
        # q_values come sorted, so index 0 is what GQ-CNN ranking executes; the mean is random's expectation.
        "top_q_success_rate": float(np.mean([s["success"][0] for s in scored])) if scored else None,
        "random_candidate_expected_success": float(np.mean([np.mean(s["success"]) for s in scored]))
        if scored else None,
        "scenes_with_mixed_outcomes": len(within),
        "mean_within_scene_auc": float(np.mean(within)) if within else None,
        "per_scene": [{"name": s["name"], "trial": s["trial"], "candidates": len(s["q"]),
                       "top_q": s["q"][0] if s["q"] else None, "top_q_success": s["success"][0] if s["q"] else None,
                       "candidate_success_rate": float(np.mean(s["success"])) if s["q"] else None}
                      for s in sorted(scenes, key=lambda s: (s["name"], s["trial"]))],
    }


def percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f} %"


def main(argv: list[str] | None = None) -> int:
    from tqdm import tqdm

    from gqcnn_core.paths import default_model_path

    parser = argparse.ArgumentParser(prog="python -m benchmarks.sim_candidates", description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=default_model_path())
    parser.add_argument("--preset", default=DEFAULT_PRESET, choices=presets(),
                        help="physical conditions and sensor, as in sim_grasping")
    parser.add_argument("--objects", type=int, default=20, help="objects per set (known, novel)")
    parser.add_argument("--trials", type=int, default=1, help="scenes per object (the benchmark's first ones)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sim", action="append", default=[], metavar="NAME=VALUE",
                        help="override a sim setting, as in sim_grasping.py")
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if not Path(args.model).is_file():
        print(f"sim_candidates: no model at {args.model}", file=sys.stderr)
        return 1
    try:
        overrides = parse_sim_overrides(args.sim)
    except ValueError as err:
        print(f"sim_candidates: {err}", file=sys.stderr)
        return 2
    jobs = [{**o, "model": str(args.model), "trials": args.trials, "preset": args.preset, "sim_overrides": overrides}
            for o in select_objects(args.objects, None)]
    start = time.perf_counter()
    with worker_pool(args.workers) as pool:
        records = list(tqdm(pool.imap_unordered(census_object, jobs), total=len(jobs), desc="objects", unit="obj"))
    report = {"model": str(args.model), "preset": args.preset, "objects_per_set": args.objects,
              "trials_per_object": args.trials,
              "sim_overrides": overrides, "wall_time_s": round(time.perf_counter() - start, 1),
              "sets": {group: summarise([r for r in records if r["set"] == group])
                       for group in sorted({r["set"] for r in records})}}
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "sim_candidates.json").write_text(json.dumps(report, indent=1))
    for group, summary in report["sets"].items():
        print(f"{group}: {summary['candidates']} candidates in {summary['scenes']} scenes, "
              f"{percent(summary['candidate_success_rate'])} succeed; top-q {percent(summary['top_q_success_rate'])} "
              f"vs random expectation {percent(summary['random_candidate_expected_success'])}; "
              f"AUC {summary['auc_q_vs_sim_success'] or '-'}, within scenes {summary['mean_within_scene_auc'] or '-'} "
              f"({summary['scenes_with_mixed_outcomes']} scenes with mixed outcomes)")
        for b in summary["by_q"]:
            print(f"  q {b['q_from']:.2f}-{b['q_to']:.2f}: {b['candidates']} candidates, "
                  f"{percent(b['success_rate'])} succeed")
    print(f"wall time {report['wall_time_s']} s; written {args.out_dir / 'sim_candidates.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
