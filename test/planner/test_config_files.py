"""config/planner.yaml reaches the nodes under the names and namespaces launch/grasp_planner.launch.py gives them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from rclpy.node import Node

from gqcnn_planner.perception_node import PerceptionNode
from gqcnn_planner.planner_node import PlannerNode

CONFIG = Path(__file__).resolve().parents[2] / "config" / "planner.yaml"
ARGS = ["--ros-args", "--params-file", str(CONFIG)]


def section(name: str) -> dict:
    return yaml.safe_load(CONFIG.read_text())[name]["ros__parameters"]


def assert_parameters(node: Node, expected: dict) -> None:
    for name, value in expected.items():
        actual = node.get_parameter(name).value  # raises if the node never declared it
        assert (list(actual) if isinstance(value, list) else actual) == pytest.approx(value), name


def test_planner_and_perception_declare_every_parameter_of_the_file(ros):
    assert_parameters(ros.add(PlannerNode(context=ros.context, cli_args=ARGS)), section("gqcnn_planner"))
    assert_parameters(ros.add(PerceptionNode(context=ros.context, cli_args=ARGS)), section("gqcnn_perception"))


def test_realsense_section_reaches_the_node_in_the_camera_namespace(ros):
    # The launch file starts realsense_depth in camera_namespace; a plain key would only match /realsense_depth.
    camera = ros.add(Node("realsense_depth", namespace="camera", context=ros.context, cli_args=ARGS,
                          automatically_declare_parameters_from_overrides=True))
    expected = section(next(key for key in yaml.safe_load(CONFIG.read_text()) if key.endswith("realsense_depth")))
    assert expected and set(expected) <= {p for p in camera._parameters}
    assert_parameters(camera, expected)
