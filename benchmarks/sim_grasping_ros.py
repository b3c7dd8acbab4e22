"""The grasping benchmark's ROS configuration: GQ-CNN CEM through the actions (PlanGrasp on the planner node,
then ExecuteGrasp on a sim execute_grasp node), on the same seeded scenes and conditions as the library runs."""

from __future__ import annotations

import os
import time
from dataclasses import asdict

import numpy as np

from benchmarks.sim_common import (
    PER_TRIAL_FIELDS,
    RESULTS,
    TABLE_CENTER,
    load_benchmark_object,
    sim_settings,
    trial_seed,
)


def ros_trials(jobs: list[dict], model: str) -> list[dict]:
    """Run each job's trials with policy `cem` through the two action servers; records as run_object's."""
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    from rclpy.node import Node
    from rclpy.parameter import Parameter

    from dexnet.generate import DEFAULT_GRIPPER
    from dexnet.mesh import MeshError
    from dexnet_msgs.action import ExecuteGrasp, PlanGrasp
    from gqcnn_core.gripper import load_gripper
    from gqcnn_planner.action_client import ThreadSafeActionClient
    from gqcnn_planner.planner_node import PlannerNode
    from gqcnn_planner.ros_conversions import depth_to_image, intrinsics_to_camera_info
    from gqcnn_planner.ros_thread import RosThread
    from yumi_bridge.execute_grasp_node import ExecuteGraspNode

    refusals = {getattr(ExecuteGrasp.Result, n): f"refused_{n.lower()}"
                for n in ("UNSAFE", "INVALID_INPUT", "NOT_CALIBRATED")}  # cause names as in run_object
    records = []
    mesh_dir = RESULTS.parent / ".cache_meshes"
    mesh_dir.mkdir(exist_ok=True)
    with RosThread() as ros:  # CEM fits its mixtures on single-threaded BLAS itself (gqcnn_planner.cem)
        ros.add(PlannerNode(context=ros.context, parameter_overrides=[
            Parameter("model_path", value=model), Parameter("gripper_file", value=str(DEFAULT_GRIPPER))]))
        client_node = ros.add(Node("sim_grasping_benchmark", context=ros.context))
        plan_client = ThreadSafeActionClient(client_node, PlanGrasp, "plan_grasp")
        plan_client.wait_for_server(timeout_sec=10.0)
        for job in jobs:
            try:
                mesh = load_benchmark_object(job["path"], load_gripper(DEFAULT_GRIPPER), job["keep_scale"])
            except (MeshError, ValueError):
                continue
            mesh_file = mesh_dir / f"{job['name'].replace('/', '_')}.obj"
            mesh.export(mesh_file)
            settings = sim_settings(job["preset"], job["sim_overrides"])
            preset_parameters = [Parameter(name, value=list(value) if isinstance(value, tuple | list) else value)
                                 for name, value in asdict(settings).items() if name not in PER_TRIAL_FIELDS]
            trials = []
            for t in range(job["trials"]):
                seed = trial_seed(job["name"], t)
                bridge = ros.add(ExecuteGraspNode(context=ros.context, parameter_overrides=[
                    Parameter("backend", value="sim"), Parameter("sim_mesh_file", value=str(mesh_file)),
                    Parameter("sim_seed", value=seed), Parameter("allow_low_q", value=True), *preset_parameters,
                    Parameter("sim_table_center", value=list(TABLE_CENTER))]))
                execute_client = ThreadSafeActionClient(client_node, ExecuteGrasp, "execute_grasp")
                execute_client.wait_for_server(timeout_sec=10.0)
                rng = np.random.default_rng(seed)
                scene = bridge.backend.scene
                depth = scene.sensed(settings.sim_sensor, rng)
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
