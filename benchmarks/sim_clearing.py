"""Bin clearing in simulation: heaps of novel objects picked one at a time until the area is empty.

Each heap (yumi_bridge.heap.HeapSimulator) pours N novel objects (test split, chosen by the heap's seed) into a
30 x 30 cm area and lets them settle. Per attempt the sensor model gives the depth image, the perception code
segments every object (connected regions above the table: touching objects may stay one region), the planner plans
on the whole heap, and the sim executes the grasp; a held object is carried out of the area and released there.
A heap ends when it is empty, after 3 failed attempts in a row, or after 2N attempts. Every method clears the same
seeded heaps: random_unchecked (gqcnn's uniform random antipodal policy, no collision check), random (among the
collision-free candidates), GQ-CNN ranking and GQ-CNN CEM.

Metrics per method and heap size: clearance (share of the heap's objects picked), success per attempt, mean picks
per hour (planning wall time plus the simulated robot cycle at the executor's speeds), failure causes, and a census
of candidates on each heap's first image (ranking's pick plus a random sample of its collision-free candidates, each
executed on the freshly dropped heap): success by q bin and the within-scene AUC of q.

    python -m benchmarks.sim_clearing [--sizes 5 10] [--heaps 10] [--preset paper|easy] [--workers 2] [--quick]

Resumable: per-heap results are appended to sim_clearing_heaps.jsonl and skipped on a rerun with the same protocol.
Writes benchmarks/results/sim_clearing.{json,md}, sim_clearing_curves.png and sim_clearing_failures.png.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmarks.sim_common import (
    DEFAULT_PRESET,
    RESULTS,
    failure_gallery,
    failure_view,
    file_digest,
    load_benchmark_object,
    parse_sim_overrides,
    perceived_mask,
    presets,
    select_objects,
    sim_settings,
    trial_seed,
    worker_pool,
)

METHODS = ("random_unchecked", "random", "ranking", "cem")
MAX_CONSECUTIVE_FAILURES = 3
OBJECT_POOL = 20  # novel objects the heaps are drawn from: the single-object benchmark's novel set
MAX_FAILURE_VIEWS, MAX_FAILURE_VIEWS_PER_HEAP_METHOD = 24, 1


def heap_objects(pool: list[dict], size: int, seed: int) -> list[dict]:
    """The heap's objects: `size` distinct ones from the pool, drawn from the heap's seed."""
    rng = np.random.default_rng([seed, 3])
    return [pool[i] for i in sorted(rng.choice(len(pool), size=min(size, len(pool)), replace=False))]


def attempt(sim, method: str, model, config, rng: np.random.Generator, views: list | None) -> dict:
    """One pick on the current heap: sense, segment, plan, execute. The record of the attempt."""
    from gqcnn_planner.errors import PlanningError
    from gqcnn_planner.policies import plan
    from yumi_bridge.motion import GraspRefusedError

    scene = sim.scene
    start = time.perf_counter()
    depth = scene.sensed(sim.settings.sim_sensor, rng)
    mask = perceived_mask(depth, scene.camera, rng)
    unchecked = method == "random_unchecked"
    try:
        planned = plan("random" if unchecked else method, depth, scene.camera, model, rng, mask,
                       config=replace(config, collision_check=False) if unchecked else config)
    except PlanningError as err:
        return {"success": False, "cause": "no_grasp", "message": str(err)[:200], "q": None,
                "planning_time": time.perf_counter() - start, "motion_time": 0.0, "left": len(sim.scene.objects)}
    planning_time = time.perf_counter() - start
    grasp = planned.grasp
    record = {"q": planned.q_value, "planning_time": planning_time, "segment_id": planned.segment_id,
              "segments": _count_segments(mask) if mask is not None else 0,
              "grasp": [*grasp.center, grasp.angle, grasp.depth, grasp.width]}
    try:
        outcome = sim.run_grasp(grasp, q_value=1.0)  # execute every method's choice, whatever its q
    except GraspRefusedError as err:
        record.update(success=False, cause=f"refused_{err.status}", message=str(err)[:200], motion_time=0.0)
    else:
        record.update(success=bool(outcome.success), cause=outcome.cause or "", message=outcome.message[:200],
                      motion_time=outcome.motion_time, held=outcome.held_object, target=outcome.target_object,
                      fell_out=list(outcome.fell_out))
    record["left"] = len(sim.scene.objects)
    if not record["success"] and views is not None:
        views.append({"image": failure_view(depth, scene.camera, grasp), "cause": record["cause"]})
    return record


def _count_segments(mask: np.ndarray) -> int:
    from gqcnn_planner.segmentation import label_segments

    return int(label_segments(mask).max())


def clear_heap(sim, size: int, method: str, model, config) -> tuple[dict, list]:
    """Run one method on the freshly dropped heap in `sim` until it is empty, 3 failures in a row or 2N attempts."""
    seed = sim.scene.seed
    record = {"objects": len(sim.scene.objects), "attempts": []}
    views: list = []
    failures_in_a_row = 0
    for index in range(2 * size):
        if not sim.scene.objects or failures_in_a_row >= MAX_CONSECUTIVE_FAILURES:
            break
        shown = views if len(views) < MAX_FAILURE_VIEWS_PER_HEAP_METHOD else None
        row = attempt(sim, method, model, config, np.random.default_rng([seed, index]), shown)
        record["attempts"].append(row)
        failures_in_a_row = 0 if row["success"] else failures_in_a_row + 1
    return record, views


def census(dropped_heap, model, config, samples: int) -> dict:
    """Ranking's candidates on the heap's first image: its pick and a random sample of the others, each executed on
    the freshly dropped heap (`dropped_heap()`: a simulator holding it). q sorted, so index 0 is ranking's pick."""
    from gqcnn_planner.errors import PlanningError
    from gqcnn_planner.policies import plan
    from gqcnn_planner.sampling import SamplerConfig
    from yumi_bridge.motion import GraspRefusedError

    sim = dropped_heap()
    scene = sim.scene
    seed = scene.seed
    rng = np.random.default_rng([seed, 0])
    depth = scene.sensed(sim.settings.sim_sensor, rng)
    try:
        planned = plan("ranking", depth, scene.camera, model, rng, perceived_mask(depth, scene.camera, rng),
                       config=replace(config, top_k=SamplerConfig().max_candidates))
    except PlanningError:
        return {"trial": 0, "q": [], "success": []}
    others = np.random.default_rng([seed, 4]).permutation(np.arange(1, len(planned.candidates)))[:samples - 1]
    chosen = np.concatenate([[0], np.sort(others)]).astype(int)
    successes = []
    for i in chosen:
        sim = dropped_heap()  # the fresh heap again: every candidate is tried on the heap as first dropped
        try:
            successes.append(bool(sim.run_grasp(planned.candidates.grasp(int(i))).success))
        except GraspRefusedError:
            successes.append(False)
    return {"trial": 0, "q": [float(planned.q_values[i]) for i in chosen], "success": successes}


def run_heap(job: dict) -> dict:
    """Every method on one seeded heap, plus its candidate census (runs in a worker process)."""
    from dexnet.generate import DEFAULT_GRIPPER
    from dexnet.mesh import MeshError
    from gqcnn_core.gripper import load_gripper
    from gqcnn_core.model import GQCNN
    from gqcnn_planner.policies import PolicyConfig
    from yumi_bridge.heap import HeapSimulator

    gripper = load_gripper(DEFAULT_GRIPPER)
    meshes, skipped = [], {}
    for obj in job["objects"]:
        try:
            meshes.append(load_benchmark_object(obj["path"], gripper))
        except (MeshError, ValueError) as err:
            skipped[obj["name"]] = str(err)
    if not meshes:
        return {**job, "skipped": skipped, "runs": {}}
    settings = sim_settings(job["preset"], job["sim_overrides"])

    # The heap is poured once (a third of a heap-of-5 job's CPU time went into pouring it again for every method and
    # census grasp) and restored into a new simulator for each method and census grasp: yumi_bridge.heap's
    # drop(seed) after a pick did not rebuild the same heap (measured 2026-12-03), and every method must clear the
    # same heap. A new simulator restored to the snapshot runs exactly as one that poured the heap itself (same
    # model and conditions, same MuJoCo integration state: outcomes checked identical, H3 2026-12-03).
    poured = HeapSimulator(meshes, settings=settings, gripper=gripper)
    poured.drop(job["seed"])
    fresh_heap = poured.snapshot()

    def dropped_heap() -> HeapSimulator:
        sim = HeapSimulator(meshes, settings=settings, gripper=gripper)
        sim.restore(fresh_heap)
        return sim

    model = GQCNN.load(job["model"], threads=1)
    config = PolicyConfig(gripper=gripper)
    runs, views = {}, []
    for method in job["methods"]:
        runs[method], heap_views = clear_heap(dropped_heap(), job["size"], method, model, config)
        views += [{**v, "method": method, "title": f"N={job['size']} heap {job['heap']} {method}: {v['cause']}"}
                  for v in heap_views]
    scenes = [census(dropped_heap, model, config, job["census"])] if job["census"] else []
    return {**job, "skipped": skipped, "runs": runs, "census_scenes": scenes, "failure_views": views}


def curve(record: dict, size: int) -> list[int]:
    """Objects left in the heap after 0, 1, ..., 2N attempts (constant once the heap ended)."""
    left = [record["objects"]] + [a["left"] for a in record["attempts"]]
    return left + [left[-1]] * (2 * size + 1 - len(left))


def summarise(records: list[dict], methods: list[str]) -> dict:
    from benchmarks.sim_candidates import summarise as census_summary
    from benchmarks.sim_common import wilson

    table: dict = {}
    for size in sorted({r["size"] for r in records}):
        heaps = [r for r in records if r["size"] == size and r["runs"]]
        for method in methods:
            runs = [r["runs"][method] for r in heaps if method in r["runs"]]
            if not runs:
                continue
            attempts = [a for run in runs for a in run["attempts"]]
            picks = sum(a["success"] for a in attempts)
            objects = sum(run["objects"] for run in runs)
            seconds = sum(a["planning_time"] + a["motion_time"] for a in attempts)
            causes: dict[str, int] = {}
            for a in attempts:
                if not a["success"]:
                    causes[a["cause"]] = causes.get(a["cause"], 0) + 1
            times = [a["planning_time"] for a in attempts]
            table.setdefault(str(size), {})[method] = {
                "heaps": len(runs), "objects": objects, "picked": picks,
                "clearance": picks / objects if objects else 0.0,
                "heaps_cleared": sum(run["attempts"] and run["attempts"][-1]["left"] == 0 and
                                     sum(a["success"] for a in run["attempts"]) == run["objects"] for run in runs),
                "attempts": len(attempts), "success_per_attempt": picks / len(attempts) if attempts else 0.0,
                "ci95": wilson(picks, len(attempts)),
                "picks_per_hour": 3600.0 * picks / seconds if seconds else 0.0,
                "planning_time_p50_s": float(np.percentile(times, 50)) if times else None,
                "fell_out": sum(len(a.get("fell_out", [])) for a in attempts),
                "failure_causes": causes,
                "objects_left_curve": np.mean([curve(run, size) for run in runs], axis=0).round(3).tolist()}
        scenes = [{"name": f"N{size}/heap{r['heap']}", "set": str(size), "scenes": r["census_scenes"]}
                  for r in heaps if r.get("census_scenes")]
        if scenes:
            summary = census_summary(scenes)
            summary.pop("per_scene")
            table.setdefault(str(size), {})["census"] = summary
    return table


def markdown(table: dict, wall_time: float, skipped: dict[str, str]) -> str:
    lines = ["| heap size | method | heaps | clearance | success per attempt (95% CI) | attempts | picks/hour "
             "| plan p50 s | failures |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for size, methods in table.items():
        for method, m in methods.items():
            if method == "census":
                continue
            causes = ", ".join(f"{k} {v}" for k, v in sorted(m["failure_causes"].items())) or "-"
            lines.append(f"| {size} | {method} | {m['heaps']} | {100 * m['clearance']:.0f}% ({m['picked']}/"
                         f"{m['objects']}) | {100 * m['success_per_attempt']:.0f}% ({100 * m['ci95'][0]:.0f}-"
                         f"{100 * m['ci95'][1]:.0f}%) | {m['attempts']} | {m['picks_per_hour']:.0f} | "
                         f"{m['planning_time_p50_s'] or 0:.2f} | {causes} |")
    lines += ["", "Candidate census (each heap's first image: ranking's pick and a random sample of its "
              "collision-free candidates, each executed on the fresh heap):", "",
              "| heap size | candidates | succeed | top-q succeeds | within-scene AUC of q (scenes) "
              "| success by q bin |",
              "| --- | --- | --- | --- | --- | --- |"]
    for size, methods in table.items():
        c = methods.get("census")
        if not c:
            continue
        bins = ", ".join(f"{b['q_from']:.2f}-{b['q_to']:.2f}: "
                         + ("-" if b["success_rate"] is None else f"{100 * b['success_rate']:.0f}%")
                         + f" of {b['candidates']}" for b in c["by_q"] if b["candidates"])
        auc = "-" if c["mean_within_scene_auc"] is None else f"{c['mean_within_scene_auc']:.2f}"
        lines.append(f"| {size} | {c['candidates']} | {100 * (c['candidate_success_rate'] or 0):.0f}% | "
                     f"{100 * (c['top_q_success_rate'] or 0):.0f}% | {auc} ({c['scenes_with_mixed_outcomes']}) | "
                     f"{bins} |")
    lines += ["", f"Wall time {wall_time / 60:.1f} min."]
    if skipped:
        lines += ["", f"Skipped {len(skipped)} object(s):", *[f"- {k}: {v}" for k, v in sorted(skipped.items())]]
    return "\n".join(lines)


def plot_curves(table: dict, out: Path) -> None:
    """Objects left vs attempts, per method (mean over heaps), one panel per heap size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = list(table)
    fig, axes = plt.subplots(1, len(sizes), figsize=(5 * len(sizes), 3.6), squeeze=False)
    for ax, size in zip(axes[0], sizes, strict=True):
        for method, m in table[size].items():
            if method != "census":
                ax.plot(np.arange(len(m["objects_left_curve"])), m["objects_left_curve"], marker=".", label=method)
        ax.set_xlabel("attempts")
        ax.set_ylabel("objects left (mean over heaps)")
        ax.set_title(f"heaps of {size}")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    from tqdm import tqdm

    from gqcnn_core.paths import default_model_path

    parser = argparse.ArgumentParser(prog="python -m benchmarks.sim_clearing", description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=default_model_path())
    parser.add_argument("--preset", default=DEFAULT_PRESET, choices=presets(),
                        help="physical conditions and sensor (yumi_bridge.sim_settings.PRESETS)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[5, 10], help="objects per heap")
    parser.add_argument("--heaps", type=int, default=10, help="seeded heaps per size")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--census", type=int, default=6,
                        help="candidates executed per heap for the census (ranking's pick + random others; 0: none)")
    parser.add_argument("--sim", action="append", default=[], metavar="NAME=VALUE",
                        help="override a sim setting, as in sim_grasping")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="CI mode: one heap of 3 objects, census of 3")
    parser.add_argument("--resume", action="store_true", help="keep heaps already in the run log")
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.heaps, args.census = [3], 1, 3
    if not Path(args.model).is_file():
        print(f"sim_clearing: no model at {args.model}", file=sys.stderr)
        return 1
    if min(args.sizes) < 1 or args.heaps < 1 or args.census < 0:
        print("sim_clearing: --sizes and --heaps must be >= 1, --census >= 0", file=sys.stderr)
        return 2
    try:
        overrides = parse_sim_overrides(args.sim)
    except ValueError as err:
        print(f"sim_clearing: {err}", file=sys.stderr)
        return 2
    pool = [o for o in select_objects(OBJECT_POOL) if o["set"] == "novel"]
    protocol = {"preset": args.preset, "sim_overrides": overrides, "methods": args.methods, "census": args.census,
                "model_sha256": file_digest(args.model)}
    as_logged = json.loads(json.dumps(protocol))
    jobs = [{**protocol, "model": str(args.model), "size": size, "heap": h, "seed": trial_seed(f"heap{size}", h),
             "objects": heap_objects(pool, size, trial_seed(f"heap{size}", h))}
            for size in args.sizes for h in range(args.heaps)]
    args.out_dir.mkdir(parents=True, exist_ok=True)
    log = args.out_dir / "sim_clearing_heaps.jsonl"
    done = {}
    if args.resume and log.is_file():
        done = {(r["size"], r["heap"]): r for r in map(json.loads, log.read_text().splitlines())
                if all(r.get(k) == v for k, v in as_logged.items())}
    elif log.exists():
        log.unlink()
    todo = [j for j in jobs if (j["size"], j["heap"]) not in done]
    start = time.perf_counter()
    records = [done[(j["size"], j["heap"])] for j in jobs if (j["size"], j["heap"]) in done]
    views: list[dict] = []
    # Big heaps first: they take longest, so the two workers finish together.
    todo.sort(key=lambda j: -j["size"])
    with worker_pool(args.workers) as workers:
        for record in tqdm(workers.imap_unordered(run_heap, todo), total=len(todo), desc="heaps", unit="heap"):
            views += record.pop("failure_views", [])
            records.append(record)
            with open(log, "a") as f:
                f.write(json.dumps(record) + "\n")
    wall_time = time.perf_counter() - start
    skipped = {k: v for r in records for k, v in r.get("skipped", {}).items()}
    if not any(r["runs"] for r in records):
        print(f"sim_clearing: no heap could be built ({len(skipped)} objects skipped)", file=sys.stderr)
        return 1
    table = summarise(records, args.methods)
    report = {"model": str(args.model), "preset": args.preset, "sim_overrides": overrides, "sizes": args.sizes,
              "heaps_per_size": args.heaps, "census_candidates_per_heap": args.census,
              "object_pool": [o["name"] for o in pool], "wall_time_s": round(wall_time, 1),
              "skipped": skipped, "table": table}
    (args.out_dir / "sim_clearing.json").write_text(json.dumps(report, indent=1))
    (args.out_dir / "sim_clearing.md").write_text(markdown(table, wall_time, skipped) + "\n")
    plot_curves(table, args.out_dir / "sim_clearing_curves.png")
    views.sort(key=lambda v: (METHODS[::-1].index(v["method"]), v["title"]))  # CEM's and ranking's failures first
    failure_gallery(views[:MAX_FAILURE_VIEWS], args.out_dir / "sim_clearing_failures.png")
    print(markdown(table, wall_time, skipped))
    print(f"written {args.out_dir / 'sim_clearing.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
