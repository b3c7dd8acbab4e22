"""The `pick` client over real rclpy: planner and sim executor wired as launch/full_stack.launch.py wires them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from rclpy.parameter import Parameter

from dexnet_msgs.action import ExecuteGrasp, PlanGrasp
from gqcnn_planner.planner_node import PlannerNode
from yumi_bridge.executor_node import ExecutorNode
from yumi_bridge.pick_node import PickClient
from yumi_bridge.sim import box_mesh

# The sim camera on the planner's depth topics, as full_stack.launch.py remaps it.
CAMERA_REMAPS = ["--ros-args", "-r", "~/sim/depth:=camera/depth/image_raw",
                 "-r", "~/sim/camera_info:=camera/depth/camera_info"]
PLANNER_REMAPS = ["--ros-args", "-r", "depth/image_raw:=camera/depth/image_raw",
                  "-r", "depth/camera_info:=camera/depth/camera_info"]


@pytest.fixture(scope="module")
def box_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("mesh") / "box.stl"
    box_mesh((0.03, 0.04, 0.08)).export(path)
    return str(path)


def start_stack(ros, box_file, bridge_args=CAMERA_REMAPS, camera_rate=2.0):
    bridge = ros.add(ExecutorNode(context=ros.context, cli_args=bridge_args, parameter_overrides=[
        Parameter("backend", value="sim"), Parameter("sim_mesh_file", value=box_file),
        Parameter("sim_seed", value=3), Parameter("sim_camera_rate", value=camera_rate),
        Parameter("allow_low_q", value=True)]))  # the wiring is under test here, not the q of a box
    # The planner joins after the sim published its first frame, like a node started later by a launch file.
    planner = ros.add(PlannerNode(context=ros.context, cli_args=PLANNER_REMAPS))
    pick = ros.add(PickClient(context=ros.context, parameter_overrides=[
        Parameter("policy", value="ranking"), Parameter("server_timeout", value=5.0)]))
    return bridge, planner, pick


def wait_for_frame(planner, timeout=5.0) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if planner.latest_frame()[1] is not None:
            return True
        time.sleep(0.05)
    return False


def test_pick_plans_on_the_streamed_sim_camera_and_holds_the_object(ros, box_file):
    _, planner, pick = start_stack(ros, box_file)
    # The planner's best-effort, volatile subscription only sees frames sent after it joined: the sim streams.
    assert wait_for_frame(planner)
    outcome = pick.pick(ros)
    assert (outcome.stage, outcome.success, outcome.message) == ("done", True, "")
    assert (outcome.plan_status, outcome.execute_status) == (PlanGrasp.Result.SUCCESS, ExecuteGrasp.Result.SUCCESS)
    assert 0.0 < outcome.grasp["width"] <= 0.05 and outcome.planning_time > 0.0
    assert outcome.phases == ["checking", "pre_grasp", "approach", "close", "lift", "transport", "release", "done"]


def test_sim_camera_rate_zero_publishes_once_per_scene(ros, box_file):
    _, planner, _ = start_stack(ros, box_file, camera_rate=0.0)
    assert not wait_for_frame(planner, timeout=1.5)


def test_pick_reports_the_planner_status_when_planning_fails(ros, box_file):
    _, _, pick = start_stack(ros, box_file, bridge_args=None)  # sim camera not remapped: the planner has no image
    outcome = pick.pick(ros)
    assert (outcome.stage, outcome.success, outcome.plan_status) == ("plan", False, PlanGrasp.Result.NO_IMAGE)
    assert outcome.message and outcome.execute_status is None


def test_pick_without_servers_exits_1_with_one_readable_line():
    # A domain of its own: servers of this process's earlier tests may linger until their contexts are collected.
    env = dict(os.environ, ROS_DOMAIN_ID=str((int(os.environ["ROS_DOMAIN_ID"]) + 50) % 101))
    done = subprocess.run([sys.executable, "-m", "yumi_bridge.pick_node", "--ros-args", "-p", "server_timeout:=0.3"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 1
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1
    outcome = json.loads(lines[0])
    assert outcome["stage"] == "servers" and not outcome["success"]
    assert outcome["message"] == "no action server for plan_grasp, execute_grasp"
