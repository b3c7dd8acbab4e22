"""The settings idiom (gqcnn_planner.node_settings) through the real parameter services and real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.parameter_client import AsyncParameterClient
from ros_waits import DISCOVERY_TIMEOUT

from dexnet_msgs.action import PlanGrasp
from gqcnn_planner.node_settings import SettingsError
from gqcnn_planner.perception_node import PerceptionNode
from gqcnn_planner.planner_node import PlannerNode, PlannerSettings
from gqcnn_planner.policies import PolicyConfig

R = PlanGrasp.Result


def set_parameters(ros, node_name: str, **values):
    """`ros2 param set` through the parameter service: the SetParameters results, one per value."""
    client_node = ros.add(Node(f"param_client_{time.monotonic_ns()}", context=ros.context))
    client = AsyncParameterClient(client_node, node_name)
    assert client.wait_for_services(timeout_sec=DISCOVERY_TIMEOUT)
    params = [Parameter(name, value=value) for name, value in values.items()]
    return ros.wait(client.set_parameters(params), 10.0).results


def test_planner_defaults_are_the_policy_config_defaults():
    settings, policy = PlannerSettings(), PolicyConfig()
    assert (settings.num_candidates, settings.top_k, settings.cem_rounds, settings.cem_samples) == (
        policy.num_candidates, policy.top_k, policy.cem_rounds, policy.cem_samples)


def test_param_set_changes_the_policy_of_the_next_goal_and_bad_values_are_refused(ros, scene, heuristic_model_path):
    from test_planner_node import Client, goal_for

    client = Client(ros, heuristic_model_path, policy="cem")
    _, result = client.send(goal_for(scene, policy=""))
    assert result.status == R.SUCCESS
    (ok,) = set_parameters(ros, "/gqcnn_planner", policy="ranking")
    assert ok.successful, ok.reason
    assert client.server.settings.policy == "ranking"
    assert client.server.get_parameter("policy").value == "ranking"

    feedback_stages: list[str] = []
    _, result = client.send(goal_for(scene, policy=""), feedback=lambda f: feedback_stages.append(f.feedback.stage))
    assert result.status == R.SUCCESS
    assert not any(stage.startswith("cem_round") for stage in feedback_stages)  # ranking, not CEM

    refused = {"policy": "nonsense", "num_candidates": 0, "top_k": -3, "model_path": "/elsewhere.onnx",
               "depth_topic": "other", "cem_rounds": "three"}
    for name, value in refused.items():
        (result,) = set_parameters(ros, "/gqcnn_planner", **{name: value})
        assert not result.successful, name
        assert result.reason, name
    assert client.server.settings.policy == "ranking" and client.server.settings.num_candidates == 250
    (result,) = set_parameters(ros, "/gqcnn_planner", policy="nonsense")
    assert "ranking" in result.reason and "cem" in result.reason  # says which values would do
    (result,) = set_parameters(ros, "/gqcnn_planner", model_path="/elsewhere.onnx")
    assert "read-only" in result.reason


def test_perception_cross_field_check_refuses_a_swapped_height_range(ros):
    node = ros.add(PerceptionNode(context=ros.context))
    (result,) = set_parameters(ros, "/gqcnn_perception", min_object_height=0.5)
    assert not result.successful and "max_object_height" in result.reason
    (result,) = set_parameters(ros, "/gqcnn_perception", min_object_height=0.01)
    assert result.successful
    assert node.config.min_object_height == 0.01


@pytest.mark.parametrize("name, value, words", [
    ("policy", "nonsense", "policy"), ("num_candidates", 0, "num_candidates"), ("top_k", 2.5, "top_k"),
])
def test_bad_start_value_raises_a_settings_error_naming_the_parameter(ros, name, value, words):
    with pytest.raises(SettingsError, match=words):
        PlannerNode(context=ros.context, parameter_overrides=[Parameter(name, value=value)])


def run_planner(*ros_args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "gqcnn_planner.planner_node", "--ros-args", *ros_args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)


def test_process_with_a_bad_parameter_exits_2_with_one_line():
    proc = run_planner("-p", "policy:=nonsense")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, (out, err)
    assert "policy" in out + err and "Traceback" not in out + err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_delivered_twice_to_the_process_group_exits_0_without_traceback(sig):
    proc = run_planner("-p", "model_path:=/nonexistent.onnx")  # starts fast; the model error is logged, not fatal
    deadline = time.monotonic() + 60
    lines = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline() or proc.stdout.readline()
        lines.append(line)
        if "plan_grasp ready" in line:
            break
    else:
        proc.kill()
        pytest.fail(f"planner did not start: {lines}")
    os.killpg(proc.pid, sig)  # like a terminal's Ctrl-C plus a supervisor's SIGINT
    time.sleep(0.002)
    os.killpg(proc.pid, sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, (out, err)
    assert "Traceback" not in out + err and "KeyboardInterrupt" not in out + err
