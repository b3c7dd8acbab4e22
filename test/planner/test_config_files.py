"""config/planner.yaml reaches the nodes under the names and namespaces launch/grasp_planner.launch.py gives them."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from rclpy.node import Node

from gqcnn_planner.perception_node import PerceptionNode
from gqcnn_planner.planner_node import PlannerNode
from gqcnn_planner.realsense_node import RealSenseNode

CONFIG = Path(__file__).resolve().parents[2] / "config" / "planner.yaml"


def params_file(tmp_path: Path) -> tuple[list[str], dict]:
    """The shipped file with every integer parameter raised by one, so a value that arrives is not a default."""
    sections = yaml.safe_load(CONFIG.read_text())
    for section in sections.values():
        values = section["ros__parameters"]
        values.update({k: v + 1 for k, v in values.items() if isinstance(v, int) and not isinstance(v, bool)})
    path = tmp_path / "planner.yaml"
    path.write_text(yaml.safe_dump(sections))
    return ["--ros-args", "--params-file", str(path)], sections


def assert_parameters(node: Node, sections: dict, node_name: str) -> None:
    key = next(key for key in sections if key.split("/")[-1] == node_name)  # e.g. "/**/realsense_depth"
    expected = sections[key]["ros__parameters"]
    assert any(isinstance(v, int) and not isinstance(v, bool) for v in expected.values())  # one non-default
    for name, value in expected.items():
        actual = node.get_parameter(name).value  # raises if the node never declared it
        assert (list(actual) if isinstance(value, list) else actual) == pytest.approx(value), name


def test_planner_and_perception_get_every_parameter_of_the_file(ros, tmp_path):
    args, sections = params_file(tmp_path)
    assert_parameters(ros.add(PlannerNode(context=ros.context, cli_args=args)), sections, "gqcnn_planner")
    assert_parameters(ros.add(PerceptionNode(context=ros.context, cli_args=args)), sections, "gqcnn_perception")


def test_realsense_section_reaches_the_node_in_the_camera_namespace(ros, tmp_path):
    # The launch file starts realsense_depth in camera_namespace; a plain key would only match /realsense_depth.
    args, sections = params_file(tmp_path)

    def no_frames(timeout_ms: int):
        time.sleep(0.05)
        raise RuntimeError("no camera in this test")  # what pyrealsense2 raises on a timeout

    node = ros.add(RealSenseNode(frame_source=no_frames, namespace="camera", context=ros.context, cli_args=args))
    assert_parameters(node, sections, "realsense_depth")


def test_the_shipped_file_restates_only_the_nodes_defaults():
    # The defaults are written once, in the settings dataclasses; the YAML file documents them for users to edit.
    # A value here that differs from the node's default would be a second, silently winning default.
    from gqcnn_core.settings import default_of, setting_fields
    from gqcnn_planner.perception_node import PerceptionSettings
    from gqcnn_planner.planner_node import PlannerSettings
    from gqcnn_planner.realsense_node import RealSenseSettings

    sections = yaml.safe_load(CONFIG.read_text())
    for section, cls in (("gqcnn_planner", PlannerSettings), ("gqcnn_perception", PerceptionSettings),
                         ("/**/realsense_depth", RealSenseSettings)):
        defaults = {f.name: default_of(f) for f in setting_fields(cls)}
        for name, value in sections[section]["ros__parameters"].items():
            default = defaults[name]
            assert (list(default) if isinstance(default, tuple) else default) == value, f"{section}.{name}"
