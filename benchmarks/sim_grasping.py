"""Grasping benchmark in simulation: the paper's Tables III/IV protocol on known and novel objects.

Each trial drops one object in a random pose onto the MuJoCo table (yumi_bridge sim backend), renders depth
with the Dex-Net camera model plus sensor noise, segments it with the perception code, plans with each method
and executes in simulation (approach, close, lift, transport, shake). Every method sees the same settled scene.

Methods: random antipodal (two: gqcnn's uniform random policy straight from the antipodal sampler, and a random
choice among the candidates that pass the planner's collision check), IGQ, GQ-CNN ranking, GQ-CNN CEM, and an
analytic oracle (the paper's REG analogue) that knows the true mesh and pose and executes the collision-free grasp
with the best robust epsilon quality.
With --ros-objects N, GQ-CNN CEM also runs through the ROS actions (PlanGrasp, then ExecuteGrasp) on N objects.

    python -m benchmarks.sim_grasping [--preset paper|easy] [--objects 20] [--trials 5] [--workers 2] [--resume]
        [--mesh-dir DIR [--keep-scale]] [--quick]

Presets (yumi_bridge.sim_settings.PRESETS): `paper` (default: finger friction drawn per trial from N(0.5, 0.1),
object density from U(200, 1200) kg/m^3, the dataset's sensor model) and `easy` (the first protocol: friction 0.8,
400 kg/m^3, ideal depth plus 1 mm noise). Objects that cannot be loaded are listed with the reason in the table's
notes; a run in which none could be loaded exits 1.

Writes benchmarks/results/sim_grasping.json, sim_grasping.md and PNGs (success by method, failure gallery).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from benchmarks.sim_common import (
    DEFAULT_PRESET,
    RESULTS,
    failure_gallery,
    failure_view,
    file_digest,
    load_benchmark_object,
    observe,
    parse_sim_overrides,
    presets,
    select_objects,
    sim_settings,
    skipped_notes,
    wilson,
    worker_pool,
)

METHODS = ("random_unchecked", "random", "igq", "ranking", "cem", "oracle")
GALLERY_ORDER = ("cem", "ranking", "oracle", "random", "igq", "random_unchecked", "cem_ros")
# random_unchecked is gqcnn's UniformRandomGraspingPolicy: one uniformly random candidate straight from the
# antipodal sampler, without the planner's collision check; random draws among the collision-free ones.
MAX_FAILURE_VIEWS, MAX_FAILURE_VIEWS_PER_OBJECT_METHOD = 24, 1
PAPER = {"known": {"success": 0.93}, "novel": {"success": 0.80}, "precision": "94-100%"}


def oracle_grasp(mesh, scene, gripper, config, rng):
    """The best robust-EQ grasp that is parallel to the table and collision-free, from the true mesh and pose."""
    from dexnet.antipodal import sample_antipodal_grasps
    from dexnet.collision import axis_parallel_to_table, grasps_collide
    from dexnet.generate import GenerationConfig, project_grasps
    from dexnet.quality import robust_epsilon_quality
    from gqcnn_core.grasp import Grasp2D

    grasps = sample_antipodal_grasps(mesh, gripper, rng, max_grasps=100)
    if len(grasps) == 0:
        return None, 0.0
    eq = robust_epsilon_quality(mesh, grasps, gripper, rng, finger_radius=GenerationConfig().finger_radius)
    table = np.eye(4)
    table[2, 3] = -config.table_z  # the collision check puts the table at z = 0
    world = grasps.transformed(scene.world_object)
    on_table = grasps.transformed(table @ scene.world_object)
    ok = axis_parallel_to_table(world.axes) & ~grasps_collide(mesh.copy().apply_transform(table @ scene.world_object),
                                                               on_table.centers, on_table.axes, gripper)
    if not ok.any():
        return None, 0.0
    best = np.flatnonzero(ok)[np.argmax(eq[ok])]
    centers, angles, depths, _ = project_grasps(world.centers[[best]], world.axes[[best]], world.widths[[best]],
                                                scene.world_camera, scene.camera)
    return Grasp2D(tuple(centers[0]), float(angles[0]), float(depths[0]), float(world.widths[best])), float(eq[best])


def run_object(job: dict) -> dict:
    """All trials and methods on one object (runs in a worker process)."""
    from dexnet.generate import DEFAULT_GRIPPER
    from dexnet.mesh import MeshError
    from gqcnn_core.gripper import load_gripper
    from gqcnn_core.model import GQCNN
    from gqcnn_planner.policies import PlanningError, PolicyConfig, plan
    from yumi_bridge.motion import GraspRefusedError
    from yumi_bridge.sim import GraspSimulator

    gripper = load_gripper(DEFAULT_GRIPPER)
    try:
        mesh = load_benchmark_object(job["path"], gripper, job["keep_scale"])
        sim = GraspSimulator(mesh, gripper=gripper, settings=sim_settings(job["preset"], job["sim_overrides"]))
    except (MeshError, RuntimeError, ValueError) as err:
        return {**job, "skipped": str(err), "trials": []}
    model = GQCNN.load(job["model"], threads=1)
    # The planner models the gripper the sim executes with; --no-collision-check plans as gqcnn did, leaving
    # collisions to the GQ-CNN.
    config = PolicyConfig(gripper=gripper, collision_check=job["collision_check"])
    trials, views = [], []
    for t in range(job["trials"]):
        scene, depth, mask, rng = observe(sim, job["name"], t)
        seed = scene.seed
        record = {"trial": t, "seed": seed, "methods": {}}
        for method in job["methods"]:
            start = time.perf_counter()
            try:
                if method == "oracle":
                    grasp, _robust_eq = oracle_grasp(mesh, scene, gripper, sim.config, rng)
                    q = None  # no GQ-CNN opinion: the oracle ranks by robust epsilon quality
                    if grasp is None:
                        raise PlanningError("oracle found no collision-free grasp")
                else:
                    unchecked = method == "random_unchecked"
                    planned = plan("random" if unchecked else method, depth, scene.camera, model,
                                   np.random.default_rng(seed), mask,
                                   config=replace(config, collision_check=False) if unchecked else config)
                    grasp, q = planned.grasp, planned.q_value
            except PlanningError as err:
                record["methods"][method] = {"success": False, "cause": "no_grasp", "message": str(err), "q": None,
                                             "planning_time": time.perf_counter() - start}
                continue
            planning_time = time.perf_counter() - start
            try:
                outcome = sim.run_grasp(scene, grasp, q_value=1.0)  # execute every method's choice, whatever its q
                success, cause, message = outcome.success, outcome.cause, outcome.message
            except GraspRefusedError as err:
                success, cause, message = False, f"refused_{err.status}", str(err)
            record["methods"][method] = {"success": bool(success), "cause": cause or "", "message": message[:200],
                                         "q": None if q is None else float(q), "planning_time": planning_time,
                                         "grasp": [*grasp.center, grasp.angle, grasp.depth, grasp.width]}
            if not success and sum(v["method"] == method for v in views) < MAX_FAILURE_VIEWS_PER_OBJECT_METHOD:
                views.append({"method": method, "set": job["set"],
                              "title": f"{job['set']} {job['name'].split('/')[-1]} #{t} {method}: {cause}",
                              "image": failure_view(depth, scene.camera, grasp)})
        trials.append(record)
    return {**job, "trials": trials, "failure_views": views}  # views are not logged: main() pops them


def summarise(records: list[dict], methods: list[str]) -> dict:
    table: dict = {}
    for group in sorted({r["set"] for r in records}):
        for method in methods:
            rows = [t["methods"][method] for r in records if r["set"] == group for t in r["trials"]
                    if method in t["methods"]]
            if not rows:
                continue
            n, wins = len(rows), sum(r["success"] for r in rows)
            rated = [r for r in rows if r["q"] is not None]
            robust = [r for r in rated if r["q"] > 0.5]
            times = [r["planning_time"] for r in rows]
            causes: dict[str, int] = {}
            for r in rows:
                if not r["success"]:
                    causes[r["cause"]] = causes.get(r["cause"], 0) + 1
            # The trials where the oracle found a collision-free grasp (from the true mesh); in the rest the object
            # mostly lies wider than the open jaws (a plate lying flat), which no method can change.
            found = [t["methods"][method] for r in records if r["set"] == group for t in r["trials"]
                     if method in t["methods"] and "oracle" in t["methods"]
                     and t["methods"]["oracle"]["cause"] != "no_grasp"]
            # ... and this method none: the image check was stricter than the gripper needs there (goal 0).
            missed = sum(row["cause"] == "no_grasp" for row in found)
            graspable = [row["success"] for row in found]
            table.setdefault(group, {})[method] = {
                "no_grasp_where_oracle_found": missed if method != "oracle" else None,
                "trials_where_oracle_found": len(graspable),
                "success_rate_where_oracle_found": sum(graspable) / len(graspable) if graspable else None,
                "trials": n, "success_rate": wins / n, "ci95": wilson(wins, n),
                "precision": (sum(r["success"] for r in robust) / len(robust)) if robust else None,
                "robust_grasp_rate": len(robust) / len(rated) if rated else None,
                # What the execute node's min_q acts on: a model whose q is P(success) rates what holds high.
                "median_q_of_successes": float(np.median([r["q"] for r in rated if r["success"]]))
                if any(r["success"] for r in rated) else None,
                "planning_time_p50_s": float(np.percentile(times, 50)),
                "planning_time_p95_s": float(np.percentile(times, 95)), "failure_causes": causes}
    return table


def markdown(table: dict, skipped: dict[str, str] | None = None) -> str:
    lines = ["| set | method | trials | success | 95% CI | precision (q>0.5) | robust rate | plan p50 / p95 s "
             "| failures |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for group, methods in table.items():
        for method, m in methods.items():
            precision = "-" if m["precision"] is None else f"{100 * m['precision']:.0f}%"
            robust = "-" if m["robust_grasp_rate"] is None else f"{100 * m['robust_grasp_rate']:.0f}%"
            causes = ", ".join(f"{k} {v}" for k, v in sorted(m["failure_causes"].items())) or "-"
            lines.append(f"| {group} | {method} | {m['trials']} | {100 * m['success_rate']:.0f}% | "
                         f"{100 * m['ci95'][0]:.0f}-{100 * m['ci95'][1]:.0f}% | {precision} | "
                         f"{robust} | {m['planning_time_p50_s']:.2f} / {m['planning_time_p95_s']:.2f} | {causes} |")
    lines.append("")
    for group, methods in table.items():
        missed = [f"{method} {m['no_grasp_where_oracle_found']}" for method, m in methods.items()
                  if m.get("no_grasp_where_oracle_found") is not None and method in ("ranking", "cem")]
        if missed and "oracle" in methods:
            lines.append(f"{group}: scenes where the oracle found a collision-free grasp but the planner ended "
                         f"NO_VALID_GRASP (goal 0): {', '.join(missed)}.")
            rates = [f"{method} {100 * m['success_rate_where_oracle_found']:.0f}%" for method, m in methods.items()
                     if m.get("success_rate_where_oracle_found") is not None]
            found = methods["oracle"]["trials_where_oracle_found"]
            lines.append(f"{group}: success on the {found} of {methods['oracle']['trials']} trials where the oracle "
                         f"found a collision-free grasp (none of its mesh grasps fit the jaws in the others): "
                         f"{', '.join(rates)}.")
        medians = [f"{method} {m['median_q_of_successes']:.2f}" for method, m in methods.items()
                   if method in ("ranking", "cem") and m.get("median_q_of_successes") is not None]
        if medians:
            lines.append(f"{group}: median q of the successful grasps: {', '.join(medians)}.")
    lines.append("")
    lines.append("Paper (physical YuMi): GQ-CNN 93% on known objects, 80% on novel ones, precision 94-100%.")
    lines += skipped_notes(skipped or {})
    return "\n".join(lines)


def plot(table: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    groups = list(table)
    methods = [m for m in (*METHODS, "cem_ros") if any(m in table[g] for g in groups)]
    width = 0.8 / max(len(groups), 1)
    for i, group in enumerate(groups):
        rates = [table[group].get(m, {}).get("success_rate", 0.0) * 100 for m in methods]
        lo = [r - table[group].get(m, {}).get("ci95", (0, 0))[0] * 100 for r, m in zip(rates, methods, strict=True)]
        hi = [table[group].get(m, {}).get("ci95", (0, 0))[1] * 100 - r for r, m in zip(rates, methods, strict=True)]
        ax.bar(np.arange(len(methods)) + i * width, rates, width, yerr=[lo, hi], capsize=3, label=group)
    ax.set_xticks(np.arange(len(methods)) + width * (len(groups) - 1) / 2, methods)
    ax.set_ylabel("success rate (%)")
    ax.set_ylim(0, 105)
    ax.legend()
    ax.set_title("simulated grasping: success by method (95% CI)")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    from tqdm import tqdm

    from gqcnn_core.paths import default_model_path

    parser = argparse.ArgumentParser(prog="python -m benchmarks.sim_grasping", description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=default_model_path())
    parser.add_argument("--preset", default=DEFAULT_PRESET, choices=presets(),
                        help="physical conditions and sensor (yumi_bridge.sim_settings.PRESETS)")
    parser.add_argument("--objects", type=int, default=20, help="objects per set (known, novel)")
    parser.add_argument("--trials", type=int, default=5, help="trials per object")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--mesh-dir", type=Path, help="also benchmark the meshes in this folder (set 'user')")
    parser.add_argument("--keep-scale", action="store_true",
                        help="--mesh-dir meshes are in metres: keep their size (default: the dataset's scaling rule)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--ros-objects", type=int, default=2, help="novel objects also run through the ROS actions")
    parser.add_argument("--sim", action="append", default=[], metavar="NAME=VALUE",
                        help="override a sim setting for every trial, e.g. --sim finger_friction=0.5 "
                             "--sim registration_error=0.002,0.002 (names as yumi_bridge.sim_settings.SimSettings, "
                             "sim_ prefix optional)")
    parser.add_argument("--no-collision-check", action="store_true",
                        help="plan without the planner's collision check (as gqcnn did: collisions left to the GQ-CNN)")
    parser.add_argument("--only", nargs="+", metavar="NAME",
                        help="run only these objects among the selected ones (e.g. pybullet/078): to rerun the scenes "
                             "of a past run with the same seeds")
    parser.add_argument("--quick", action="store_true", help="CI mode: 1 object per set, 1 trial")
    parser.add_argument("--resume", action="store_true", help="keep objects already in the run log")
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick:
        args.objects, args.trials, args.ros_objects = 1, 1, 1
    if args.no_collision_check:
        args.ros_objects = 0  # the planner node always checks collisions
    if not Path(args.model).is_file():
        print(f"sim_grasping: no model at {args.model}", file=sys.stderr)
        return 1
    try:
        overrides = parse_sim_overrides(args.sim)
    except ValueError as err:
        print(f"sim_grasping: {err}", file=sys.stderr)
        return 2
    try:
        objects = select_objects(args.objects, args.mesh_dir)
        if args.only:
            unknown = sorted(set(args.only) - {o["name"] for o in objects})
            if unknown:
                raise ValueError(f"--only: not among the selected objects: {', '.join(unknown)}")
            objects = [o for o in objects if o["name"] in args.only]
    except (OSError, ValueError) as err:
        print(f"sim_grasping: {err}", file=sys.stderr)
        return 2
    args.out_dir.mkdir(parents=True, exist_ok=True)
    log = args.out_dir / "sim_grasping_trials.jsonl"
    # A logged object is reused only if it ran under exactly this protocol.
    protocol = {"trials_requested": args.trials, "methods": args.methods, "preset": args.preset,
                "model_sha256": file_digest(args.model),
                "sim_overrides": overrides, "collision_check": not args.no_collision_check,
                "keep_scale": args.keep_scale}
    as_logged = json.loads(json.dumps(protocol))  # tuples are lists in the log
    done = {}
    if args.resume and log.is_file():
        done = {r["name"]: r for r in map(json.loads, log.read_text().splitlines())
                if all(r.get(k) == v for k, v in as_logged.items())}
    elif log.exists():
        log.unlink()
    jobs = [{**o, "model": str(args.model), "trials": args.trials, **protocol} for o in objects]
    todo = [j for j in jobs if j["name"] not in done]
    start = time.perf_counter()
    records = list(done.values())
    views: list[dict] = []
    with worker_pool(args.workers) as pool:
        for record in tqdm(pool.imap_unordered(run_object, todo), total=len(todo), desc="objects", unit="obj"):
            views += record.pop("failure_views", [])
            records.append(record)
            with open(log, "a") as f:
                f.write(json.dumps(record) + "\n")
    library_seconds = time.perf_counter() - start
    skipped = {r["name"]: r["skipped"] for r in records if r.get("skipped")}
    if records and len(skipped) == len(records):
        print(f"sim_grasping: none of the {len(records)} objects could be loaded (first: "
              f"{next(iter(skipped.items()))[0]}: {next(iter(skipped.values()))})", file=sys.stderr)
        return 1
    ros_records = []
    if args.ros_objects:
        from benchmarks.sim_grasping_ros import ros_trials

        ros_jobs = [j for j in jobs if j["set"] == "novel" and j["name"] not in skipped][: args.ros_objects]
        ros_records = ros_trials(ros_jobs, str(args.model))
    table = summarise(records, args.methods)
    for group, methods in summarise(ros_records, ["cem_ros"]).items():
        table.setdefault(group, {}).update(methods)
    report = {"model": str(args.model), "preset": args.preset,
              "sim_settings": json.loads(json.dumps(asdict(sim_settings(args.preset, overrides)))),
              "objects_per_set": args.objects, "trials_per_object": args.trials,
              "sim_overrides": overrides, "collision_check": not args.no_collision_check,
              "wall_time_s": round(time.perf_counter() - start, 1), "library_wall_time_s": round(library_seconds, 1),
              "skipped": skipped, "table": table, "paper": PAPER}
    (args.out_dir / "sim_grasping.json").write_text(json.dumps(report, indent=1))
    (args.out_dir / "sim_grasping.md").write_text(markdown(table, skipped) + "\n")
    plot(table, args.out_dir / "sim_grasping_success.png")
    # The planner's own failures first (the GQ-CNN policies, novel objects before known ones), then the baselines'.
    views.sort(key=lambda v: (GALLERY_ORDER.index(v["method"]), v["set"] != "novel"))
    failure_gallery(views[:MAX_FAILURE_VIEWS], args.out_dir / "sim_grasping_failures.png")
    print(markdown(table, skipped))
    print(f"wall time {report['wall_time_s']} s; written {args.out_dir / 'sim_grasping.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
