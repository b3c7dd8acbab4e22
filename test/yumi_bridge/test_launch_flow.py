"""The documented flow with its defaults: `ros2 launch yumi_bridge full_stack.launch.py`, then `ros2 run yumi_bridge
pick`. The nodes start in-process with exactly the launch file's parameter files, remappings and default arguments
(yumi_bridge.launch_description); `pick` runs as its own process, as a user runs it. Issue 16: every pick of the
launch flow's default scene used to be refused as UNSAFE (q about 0.1 < min_q 0.5) while the same grasp holds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from dexnet_msgs.action import ExecuteGrasp, PlanGrasp
from gqcnn_planner.launch_description import parse_arguments, start_in_process
from yumi_bridge.execute_grasp_node import ExecuteGraspNode
from yumi_bridge.launch_description import FULL_STACK_ARGUMENTS, full_stack_nodes


def test_the_launch_flow_defaults_pick_and_hold_the_default_object(ros):
    specs = full_stack_nodes(**parse_arguments({}, FULL_STACK_ARGUMENTS))
    nodes = [ros.add(start_in_process(spec, context=ros.context)) for spec in specs]
    bridge = next(node for node in nodes if isinstance(node, ExecuteGraspNode))
    assert bridge.backend.name == "sim" and not bridge.config.allow_low_q  # the defaults, nothing relaxed
    results = []  # what the execute node's goal ended with, seen from its side
    run_goal = bridge.run_goal
    bridge.run_goal = lambda *args: results.append(run_goal(*args)) or results[-1]

    done = subprocess.run([sys.executable, "-m", "yumi_bridge.pick_node", "--ros-args",
                           "-p", "server_timeout:=30.0", "-p", "plan_timeout:=60.0"],
                          capture_output=True, text=True, timeout=240, env=dict(os.environ))
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert done.returncode == 0, done.stdout + done.stderr
    assert (outcome["stage"], outcome["success"]) == ("done", True)
    assert (outcome["plan_status"], outcome["execute_status"]) == (PlanGrasp.Result.SUCCESS,
                                                                   ExecuteGrasp.Result.SUCCESS)
    assert outcome["grasp"]["q_value"] >= bridge.config.min_q
    deadline = time.time() + 10.0
    while not results and time.time() < deadline:
        time.sleep(0.05)
    assert results[0].success and 0.0 < results[0].final_width < bridge.gripper.max_width  # held between the jaws
