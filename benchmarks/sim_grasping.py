"""Grasping benchmark in simulation: the paper's Tables III/IV protocol on known and novel objects.

Each trial drops one object in a random pose onto the MuJoCo table (yumi_bridge sim backend), renders depth
with the Dex-Net camera model plus sensor noise, segments it with the perception code, plans with each method
and executes in simulation (approach, close, lift, transport, shake). Every method sees the same settled scene.

Methods: random antipodal (two: gqcnn's uniform random policy straight from the antipodal sampler, and a random
choice among the candidates that pass the planner's collision check), IGQ, GQ-CNN ranking, GQ-CNN CEM, and an
analytic oracle (the paper's REG analogue) that knows the true mesh and pose and executes the collision-free grasp
with the best robust epsilon quality.
With --ros-objects N, GQ-CNN CEM also runs through the ROS actions (PlanGrasp, then ExecuteGrasp) on N objects.

    python benchmarks/sim_grasping.py [--objects 20] [--trials 5] [--workers 2] [--resume] [--quick]

Writes benchmarks/results/sim_grasping.json, sim_grasping.md and PNGs (success by method, failure gallery).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from dataclasses import replace
from multiprocessing import get_context
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
METHODS = ("random_unchecked", "random", "igq", "ranking", "cem", "oracle")
GALLERY_ORDER = ("cem", "ranking", "oracle", "random", "igq", "random_unchecked")
# random_unchecked is gqcnn's UniformRandomGraspingPolicy: one uniformly random candidate straight from the
# antipodal sampler, without the planner's collision check; random draws among the collision-free ones.
# Objects are dropped within 10 cm of this base-frame point (the camera looks at it): around the sim's default of
# (0.40, 0) about 3 % of the drops ended where neither YuMi arm reaches every waypoint (1 % still do here),
# which measures the workspace rather than the planner. The scenes are the same, shifted, wherever the centre is.
TABLE_CENTER = (0.35, 0.0)
MAX_FAILURE_VIEWS, MAX_FAILURE_VIEWS_PER_OBJECT_METHOD = 24, 1
PAPER = {"known": {"success": 0.93}, "novel": {"success": 0.80}, "precision": "94-100%"}


def sim_settings(overrides: dict | None = None):
    """The sim backend's settings for the benchmark scenes (objects dropped around TABLE_CENTER), with `overrides`
    (SimSettings field name -> value) on top.

    By default the robot plans with the exact camera pose (what the paper's numbers compare against); a chessboard
    registration is typically off by a few millimetres: try --sim registration_error=0.002,0.002."""
    from yumi_bridge.sim import SimSettings

    return SimSettings(**{"sim_table_center": TABLE_CENTER, **(overrides or {})})


def parse_sim_overrides(pairs: list[str]) -> dict:
    """`--sim NAME=VALUE` pairs as SimSettings overrides, each value converted to its field's type.

    Raises ValueError naming the bad pair (unknown field, or a value of the wrong type)."""
    from dataclasses import fields

    from yumi_bridge.sim import SimSettings

    # The benchmark sets these per trial (seeded drop, the object's mesh, objects in reach of both arms).
    kinds = {f.name: type(f.default) for f in fields(SimSettings)
             if f.name not in ("sim_seed", "sim_mesh_file", "sim_table_center")}
    overrides = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        name = name if name.startswith("sim_") else f"sim_{name}"
        if name not in kinds or not value:
            raise ValueError(f"--sim {pair}: expected NAME=VALUE with NAME one of {', '.join(sorted(kinds))}")
        try:
            overrides[name] = tuple(float(v) for v in value.split(",")) if kinds[name] is tuple else kinds[name](value)
        except ValueError:
            raise ValueError(f"--sim {pair}: {value!r} is not a {kinds[name].__name__}") from None
        if not np.all(np.isfinite(overrides[name] if kinds[name] is not str else 0.0)):
            raise ValueError(f"--sim {pair}: not a finite number")
    sim_settings(overrides=overrides)  # validates the values (e.g. the registration error)
    return overrides


def trial_seed(name: str, trial: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{name}/{trial}".encode()).digest()[:4], "big")


def select_objects(per_set: int, mesh_dir: Path | None) -> list[dict]:
    """Known = train split, novel = test split of the pybullet database (first loadable ones), plus user meshes."""
    from dexnet import dataset
    from dexnet.mesh import pybullet_object_paths, user_mesh_paths

    chosen: list[dict] = []
    counts = {"known": 0, "novel": 0}
    for path in pybullet_object_paths():
        split = dataset.object_split(f"pybullet/{path.stem}")
        group = {"train": "known", "test": "novel"}.get(split)
        if group and counts[group] < per_set:
            chosen.append({"name": f"pybullet/{path.stem}", "path": str(path), "set": group})
            counts[group] += 1
    if mesh_dir is not None:
        chosen += [{"name": f"user/{p.stem}", "path": str(p), "set": "user"} for p in user_mesh_paths(mesh_dir)]
    return chosen


def sensor_depth(rendered: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The rendered depth as a calibrated structured-light camera at 0.7 m gives it: 1 mm noise per pixel, 0 where
    nothing was hit.

    (The training augmentation's Gamma factor has a 3 % spread, 2 cm of global depth error at this range: a
    robustness margin for training, not a model of a calibrated sensor.)
    """
    depth = (np.nan_to_num(rendered, nan=0.0) + rng.normal(0.0, 0.001, rendered.shape)).astype(np.float32)
    depth[~np.isfinite(rendered)] = 0.0
    return depth


def observe(sim, name: str, trial: int):
    """One trial as the planner sees it: (settled scene, sensor depth, perception segmask or None, the trial's rng)."""
    from gqcnn_planner.segmentation import segment_objects

    seed = trial_seed(name, trial)
    scene = sim.drop_object(seed)
    rng = np.random.default_rng(seed)
    depth = sensor_depth(scene.depth, rng)
    try:
        mask, _ = segment_objects(depth, scene.camera, rng)
    except ValueError:
        mask = None
    return scene, depth, (mask if mask is not None and mask.any() else None), rng


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


def failure_view(depth: np.ndarray, camera, grasp, half: int = 60) -> np.ndarray:
    """RGB close-up (2x) of the depth image around a grasp, with the executed grasp drawn on it."""
    from gqcnn_planner.overlay import draw_grasps
    from gqcnn_planner.sampling import GraspCandidates

    u, v = np.round(grasp.center).astype(int)
    u0 = int(np.clip(u - half, 0, depth.shape[1] - 2 * half))
    v0 = int(np.clip(v - half, 0, depth.shape[0] - 2 * half))
    p1, p2 = grasp.endpoints_px(camera)
    one = GraspCandidates([[grasp.center[0] - u0, grasp.center[1] - v0]], [grasp.angle], [grasp.depth],
                          [grasp.width], [float(np.linalg.norm(p2 - p1))])
    crop = np.where(depth > 0, depth, np.nan)[v0:v0 + 2 * half, u0:u0 + 2 * half]
    return draw_grasps(crop, one, np.ones(1), chosen=0, scale=2)


def run_object(job: dict) -> dict:
    """All trials and methods on one object (runs in a worker process)."""
    from dexnet.generate import DEFAULT_GRIPPER
    from dexnet.mesh import MeshError, load_object
    from gqcnn_core.gripper import load_gripper
    from gqcnn_core.model import GQCNN
    from gqcnn_planner.policies import PlanningError, PolicyConfig, plan
    from yumi_bridge.motion import GraspRefusedError
    from yumi_bridge.sim import GraspSimulator

    gripper = load_gripper(DEFAULT_GRIPPER)
    try:
        mesh = load_object(Path(job["path"]), gripper)
        sim = GraspSimulator(mesh, gripper=gripper,
                             settings=sim_settings(job["sim_overrides"]))
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


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return 0.0, 0.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


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
            table.setdefault(group, {})[method] = {
                "trials": n, "success_rate": wins / n, "ci95": wilson(wins, n),
                "precision": (sum(r["success"] for r in robust) / len(robust)) if robust else None,
                "robust_grasp_rate": len(robust) / len(rated) if rated else None,
                "planning_time_p50_s": float(np.percentile(times, 50)),
                "planning_time_p95_s": float(np.percentile(times, 95)), "failure_causes": causes}
    return table


def markdown(table: dict) -> str:
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
    lines.append("Paper (physical YuMi): GQ-CNN 93% on known objects, 80% on novel ones, precision 94-100%.")
    return "\n".join(lines)


def failure_gallery(views: list[dict], out: Path, columns: int = 6) -> None:
    """A grid of failed trials: depth close-ups with the executed grasp (blue) and the failure cause."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not views:
        return
    rows = -(-len(views) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(2.4 * columns, 2.6 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, view in zip(axes.ravel(), views, strict=False):
        ax.imshow(view["image"])
        ax.set_title(view["title"], fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


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


def ros_trials(jobs: list[dict], model: str) -> list[dict]:
    """GQ-CNN CEM through the actions: PlanGrasp on the planner node, ExecuteGrasp on a sim yumi_bridge node."""
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    from rclpy.action import ActionClient
    from rclpy.node import Node
    from rclpy.parameter import Parameter

    from dexnet.generate import DEFAULT_GRIPPER
    from dexnet.mesh import MeshError, load_object
    from dexnet_msgs.action import ExecuteGrasp, PlanGrasp
    from gqcnn_core.gripper import load_gripper
    from gqcnn_planner.background_executor import BackgroundExecutor
    from gqcnn_planner.planner_node import PlannerNode
    from gqcnn_planner.ros_conversions import depth_to_image, intrinsics_to_camera_info
    from yumi_bridge.execute_grasp_node import ExecuteGraspNode

    refusals = {getattr(ExecuteGrasp.Result, n): f"refused_{n.lower()}"
                for n in ("UNSAFE", "INVALID_INPUT", "NOT_CALIBRATED")}  # cause names as in run_object
    records = []
    mesh_dir = RESULTS.parent / ".cache_meshes"
    mesh_dir.mkdir(exist_ok=True)
    with BackgroundExecutor() as ros:
        ros.add(PlannerNode(context=ros.context, parameter_overrides=[
            Parameter("model_path", value=model), Parameter("gripper_file", value=str(DEFAULT_GRIPPER))]))
        client_node = ros.add(Node("sim_grasping_benchmark", context=ros.context))
        plan_client = ActionClient(client_node, PlanGrasp, "plan_grasp")
        plan_client.wait_for_server(timeout_sec=10.0)
        for job in jobs:
            try:
                mesh = load_object(Path(job["path"]), load_gripper(DEFAULT_GRIPPER))
            except MeshError:
                continue
            mesh_file = mesh_dir / f"{job['name'].replace('/', '_')}.obj"
            mesh.export(mesh_file)
            trials = []
            for t in range(job["trials"]):
                seed = trial_seed(job["name"], t)
                bridge = ros.add(ExecuteGraspNode(context=ros.context, parameter_overrides=[
                    Parameter("backend", value="sim"), Parameter("sim_mesh_file", value=str(mesh_file)),
                    Parameter("sim_seed", value=seed), Parameter("allow_low_q", value=True),
                    *[Parameter(name, value=list(value) if isinstance(value, tuple | list) else value)
                      for name, value in job["sim_overrides"].items()],
                    Parameter("sim_table_center", value=list(TABLE_CENTER))]))
                execute_client = ActionClient(client_node, ExecuteGrasp, "execute_grasp")
                execute_client.wait_for_server(timeout_sec=10.0)
                rng = np.random.default_rng(seed)
                scene = bridge.backend.scene
                depth = sensor_depth(scene.depth, rng)
                start = time.perf_counter()
                goal = PlanGrasp.Goal(depth=depth_to_image(depth), camera_info=intrinsics_to_camera_info(scene.camera),
                                      policy="cem")
                result = ros.send_goal(plan_client, goal, 120.0)
                planning_time = time.perf_counter() - start
                if result.status != PlanGrasp.Result.SUCCESS:
                    row = {"success": False, "cause": "no_grasp", "message": result.message, "q": None,
                           "planning_time": planning_time}
                else:
                    outcome = ros.send_goal(execute_client, ExecuteGrasp.Goal(grasp=result.grasp), 120.0)
                    cause = "" if outcome.success else refusals.get(
                        outcome.status, outcome.message.split(":")[0] or f"status_{outcome.status}")
                    row = {"success": bool(outcome.success), "cause": cause, "message": outcome.message[:200],
                           "q": float(result.grasp.q_value), "planning_time": planning_time}
                trials.append({"trial": t, "seed": seed, "methods": {"cem_ros": row}})
                execute_client.destroy()
                ros.remove(bridge)
            records.append({**job, "trials": trials})
    return records


def main(argv: list[str] | None = None) -> int:
    from tqdm import tqdm

    from gqcnn_core.paths import default_model_path

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=default_model_path())
    parser.add_argument("--objects", type=int, default=20, help="objects per set (known, novel)")
    parser.add_argument("--trials", type=int, default=5, help="trials per object")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--mesh-dir", type=Path, help="also benchmark the meshes in this folder (set 'user')")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--ros-objects", type=int, default=2, help="novel objects also run through the ROS actions")
    parser.add_argument("--sim", action="append", default=[], metavar="NAME=VALUE",
                        help="override a sim setting for every trial, e.g. --sim finger_friction=0.5 "
                             "--sim registration_error=0.002,0.002 (names as yumi_bridge.sim.SimSettings, sim_ prefix "
                             "optional)")
    parser.add_argument("--no-collision-check", action="store_true",
                        help="plan without the planner's collision check (as gqcnn did: collisions left to the GQ-CNN)")
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
    args.out_dir.mkdir(parents=True, exist_ok=True)
    log = args.out_dir / "sim_grasping_trials.jsonl"
    done = {}
    if args.resume and log.is_file():
        done = {r["name"]: r for r in map(json.loads, log.read_text().splitlines()) if r.get("trials_requested")
                == args.trials and r.get("methods") == args.methods
                and r.get("sim_overrides") == json.loads(json.dumps(overrides))  # as logged: tuples are lists
                and r.get("collision_check") == (not args.no_collision_check)}
    elif log.exists():
        log.unlink()
    jobs = [{**o, "model": str(args.model), "trials": args.trials, "trials_requested": args.trials,
             "methods": args.methods, "sim_overrides": overrides,
             "collision_check": not args.no_collision_check}
            for o in select_objects(args.objects, args.mesh_dir)]
    todo = [j for j in jobs if j["name"] not in done]
    start = time.perf_counter()
    records = list(done.values())
    views: list[dict] = []
    with get_context("spawn").Pool(args.workers) as pool:
        for record in tqdm(pool.imap_unordered(run_object, todo), total=len(todo), desc="objects", unit="obj"):
            views += record.pop("failure_views", [])
            records.append(record)
            with open(log, "a") as f:
                f.write(json.dumps(record) + "\n")
    library_seconds = time.perf_counter() - start
    ros_records = []
    if args.ros_objects:
        ros_records = ros_trials([j for j in jobs if j["set"] == "novel"][: args.ros_objects], str(args.model))
    table = summarise(records, args.methods)
    for group, methods in summarise(ros_records, ["cem_ros"]).items():
        table.setdefault(group, {}).update(methods)
    report = {"model": str(args.model), "objects_per_set": args.objects, "trials_per_object": args.trials,
              "sim_overrides": overrides, "collision_check": not args.no_collision_check,
              "wall_time_s": round(time.perf_counter() - start, 1), "library_wall_time_s": round(library_seconds, 1),
              "skipped": {r["name"]: r["skipped"] for r in records if r.get("skipped")},
              "table": table, "paper": PAPER}
    (args.out_dir / "sim_grasping.json").write_text(json.dumps(report, indent=1))
    (args.out_dir / "sim_grasping.md").write_text(markdown(table) + "\n")
    plot(table, args.out_dir / "sim_grasping_success.png")
    # The planner's own failures first (the GQ-CNN policies, novel objects before known ones), then the baselines'.
    views.sort(key=lambda v: (GALLERY_ORDER.index(v["method"]), v["set"] != "novel"))
    failure_gallery(views[:MAX_FAILURE_VIEWS], args.out_dir / "sim_grasping_failures.png")
    print(markdown(table))
    print(f"wall time {report['wall_time_s']} s; written {args.out_dir / 'sim_grasping.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
