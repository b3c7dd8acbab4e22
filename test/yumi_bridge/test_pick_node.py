"""The `pick` client over real rclpy: planner and sim executor wired as launch/full_stack.launch.py wires them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from rclpy.action import ActionServer, GoalResponse
from rclpy.node import Node
from rclpy.parameter import Parameter

from dexnet_msgs.action import ExecuteGrasp, PlanGrasp
from gqcnn_planner.planner_node import PlannerNode
from yumi_bridge.execute_grasp_node import ExecuteGraspNode
from yumi_bridge.pick_node import PickClient

# The sim camera on the planner's depth topics, as full_stack.launch.py remaps it.
CAMERA_REMAPS = ["--ros-args", "-r", "~/sim/depth:=camera/depth/image_raw",
                 "-r", "~/sim/camera_info:=camera/depth/camera_info"]
PLANNER_REMAPS = ["--ros-args", "-r", "depth/image_raw:=camera/depth/image_raw",
                  "-r", "depth/camera_info:=camera/depth/camera_info"]


def start_stack(ros, box_file, bridge_args=CAMERA_REMAPS, camera_rate=2.0, pick_parameters=(), bridge_parameters=()):
    bridge = ros.add(ExecuteGraspNode(context=ros.context, cli_args=bridge_args, parameter_overrides=[
        Parameter("backend", value="sim"), Parameter("sim_mesh_file", value=box_file),
        Parameter("sim_seed", value=3), Parameter("sim_camera_rate", value=camera_rate),
        Parameter("allow_low_q", value=True), *bridge_parameters]))  # the wiring is under test, not a box's q
    # The planner joins after the sim published its first frame, like a node started later by a launch file.
    planner = ros.add(PlannerNode(context=ros.context, cli_args=PLANNER_REMAPS))
    pick = ros.add(PickClient(context=ros.context, parameter_overrides=[
        Parameter("policy", value="ranking"), Parameter("server_timeout", value=30.0), *pick_parameters]))
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
    # "done" is feedback too, and feedback and result travel apart: it may come after the result.
    assert outcome.phases[:7] == ["checking", "pre_grasp", "approach", "close", "lift", "transport", "release"]


def test_pick_cancels_an_execution_it_stops_waiting_for(ros, box_file):
    # Jaws closing at 1 mm/s take seconds of CPU: pick gives up after 0.5 s, long before the grasp could end.
    bridge, planner, pick = start_stack(ros, box_file, pick_parameters=[Parameter("execute_timeout", value=0.5)],
                                        bridge_parameters=[Parameter("sim_gripper_speed", value=0.001)])
    results = []  # what the executor's goal ended with, seen from its side
    run_goal = bridge.run_goal
    bridge.run_goal = lambda *args: results.append(run_goal(*args)) or results[-1]
    assert wait_for_frame(planner)
    outcome = pick.pick(ros)
    assert (outcome.stage, outcome.success, outcome.plan_status) == ("execute", False, PlanGrasp.Result.SUCCESS)
    assert outcome.message.endswith("(goal canceled)") and outcome.execute_status is None
    deadline = time.time() + 30.0
    while not results:
        assert time.time() < deadline, "the execution goal kept running after pick gave up on it"
        time.sleep(0.05)
    assert results[0].status == ExecuteGrasp.Result.CANCELED


def test_a_rejected_goal_is_a_failure_not_an_empty_success(ros):
    rejecting = ros.add(Node("rejecting_servers", context=ros.context))
    for action, name in ((PlanGrasp, "plan_grasp"), (ExecuteGrasp, "execute_grasp")):
        ActionServer(rejecting, action, name, execute_callback=lambda handle: None,
                     goal_callback=lambda goal: GoalResponse.REJECT)
    pick = ros.add(PickClient(context=ros.context, parameter_overrides=[Parameter("dry_run", value=True)]))
    outcome = pick.pick(ros)
    assert (outcome.stage, outcome.success) == ("plan", False)
    assert outcome.message == "plan_grasp: goal rejected by the action server"


def test_sim_camera_rate_zero_publishes_once_per_scene(ros, box_file):
    _, planner, _ = start_stack(ros, box_file, camera_rate=0.0)
    assert not wait_for_frame(planner, timeout=1.5)


def test_pick_reports_the_planner_status_when_planning_fails(ros, box_file):
    _, _, pick = start_stack(ros, box_file, bridge_args=None)  # sim camera not remapped: the planner has no image
    outcome = pick.pick(ros)
    assert (outcome.stage, outcome.success, outcome.plan_status) == ("plan", False, PlanGrasp.Result.NO_IMAGE)
    assert outcome.message and outcome.execute_status is None


def run_pick(*parameters: str) -> tuple[int, dict, float, str]:
    # A domain of its own (1-100, never ours): servers of this process's earlier tests may linger until collected.
    env = dict(os.environ, ROS_DOMAIN_ID=str((int(os.environ["ROS_DOMAIN_ID"]) + 50) % 100 + 1))
    args = [arg for parameter in parameters for arg in ("-p", parameter)]
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "yumi_bridge.pick_node", "--ros-args", *args],
                          capture_output=True, text=True, timeout=60, env=env)
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, done.stdout + done.stderr
    return done.returncode, json.loads(lines[0]), time.monotonic() - start, done.stderr


def test_pick_without_servers_exits_1_with_one_readable_line():
    returncode, outcome, seconds, stderr = run_pick("server_timeout:=1.0")
    assert returncode == 1 and outcome["stage"] == "servers" and not outcome["success"]
    assert outcome["message"] == "no action server for plan_grasp, execute_grasp"
    assert stderr.strip().splitlines()[-1] == "pick: servers: no action server for plan_grasp, execute_grasp"
    assert "Traceback" not in stderr
    assert seconds < 10.0  # the --ros-args reached the node: the default would wait 2 x 10 s


def test_pick_with_a_bad_parameter_exits_2_with_one_readable_line():
    for parameter, reason in (("dry_run:=maybe", "expecting type 'BOOL'"), ("execute_timeout:=-1.0", "out of range"),
                              ("arm:=middle", "'middle' is not one of")):
        returncode, outcome, _, stderr = run_pick(parameter)
        assert returncode == 2 and outcome["stage"] == "parameters" and reason in outcome["message"]
        assert stderr.strip().splitlines()[-1].startswith("pick: parameters: invalid parameter: ")
        assert "Traceback" not in stderr


def test_pick_interrupted_twice_exits_1_with_one_readable_line():
    # A Ctrl-C sent to the whole process group arrives twice; the second must not turn into a traceback.
    env = dict(os.environ, ROS_DOMAIN_ID=str((int(os.environ["ROS_DOMAIN_ID"]) + 50) % 100 + 1))
    process = subprocess.Popen([sys.executable, "-m", "yumi_bridge.pick_node", "--ros-args", "-p",
                                "server_timeout:=60.0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=env, start_new_session=True)
    lines = []
    for line in process.stderr:  # until it waits for the servers
        lines.append(line)
        if "waiting up to 60.0 s" in line:
            break
    os.killpg(process.pid, signal.SIGINT)
    time.sleep(0.05)
    os.killpg(process.pid, signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 1, "".join(lines) + stderr
    assert json.loads(stdout.strip().splitlines()[-1])["stage"] == "interrupted"
    assert "Traceback" not in stderr and stderr.strip().splitlines()[-1].startswith("pick: interrupted: ")
