"""The launch files: what they start (gqcnn_planner/yumi_bridge launch_description), started in-process with exactly
their command lines on the real rclpy middleware, and the launch files' own code run against a stand-in of the
launch API (launch and launch_ros are not installable from PyPI)."""

from __future__ import annotations

import ast
import importlib.util
import sys
import time
import types
from pathlib import Path

import pytest
import yaml

from gqcnn_core import paths
from gqcnn_planner.launch_description import (
    PLANNER_ARGUMENTS,
    camera_topics,
    parse_arguments,
    planner_nodes,
    start_in_process,
)
from yumi_bridge.launch_description import FULL_STACK_ARGUMENTS, full_stack_nodes

ROOT = Path(__file__).resolve().parents[1]


def by_name(specs):
    return {spec.name: spec for spec in specs}


# ---- the description --------------------------------------------------------------------------------------------

def test_defaults_start_perception_planner_and_tf_and_override_nothing():
    specs = by_name(planner_nodes(**parse_arguments({}, PLANNER_ARGUMENTS)))
    assert set(specs) == {"camera_tf_publisher", "gqcnn_perception", "gqcnn_planner"}
    assert all(spec.overrides == () for spec in specs.values())  # the params file decides
    assert all(spec.params_files == (str(paths.PLANNER_PARAMS_FILE),) for spec in specs.values())
    assert dict(specs["gqcnn_planner"].remappings) == {"depth/image_raw": "/camera/depth/image_raw",
                                                        "depth/camera_info": "/camera/depth/camera_info"}


def test_a_given_argument_overrides_the_params_file():
    specs = by_name(full_stack_nodes(**parse_arguments({"policy": "ranking", "backend": "rws"}, FULL_STACK_ARGUMENTS)))
    assert specs["gqcnn_planner"].overrides == (("policy", "ranking"),)
    assert specs["yumi_bridge"].overrides == (("backend", "rws"),)
    assert "camera_tf_publisher" in specs  # a real robot: the extrinsics file is the camera's TF
    assert "-p" in specs["gqcnn_planner"].ros_args() and 'policy:="ranking"' in specs["gqcnn_planner"].ros_args()


def test_camera_tf_node_only_with_the_rws_backend_the_sim_publishes_its_own_camera_pose(tmp_path):
    def started(values):
        return set(by_name(full_stack_nodes(**parse_arguments(values, FULL_STACK_ARGUMENTS))))

    assert "camera_tf_publisher" not in started({})  # the bridge params file's backend: sim
    assert "camera_tf_publisher" not in started({"backend": "sim"})
    assert "camera_tf_publisher" in started({"backend": "rws"})
    assert "camera_tf_publisher" not in started({"backend": "rws", "publish_tf": "false"})
    rws_file = tmp_path / "bridge.yaml"
    rws_file.write_text("/yumi_bridge:\n  ros__parameters:\n    backend: rws\n")
    assert "camera_tf_publisher" in started({"bridge_params_file": str(rws_file)})


def test_camera_presets_and_explicit_topics():
    assert camera_topics("realsense_ros") == ("/camera/camera/depth/image_rect_raw", "/camera/camera/depth/camera_info")
    assert camera_topics("own", "/wrist_cam/") == ("/wrist_cam/depth/image_raw", "/wrist_cam/depth/camera_info")
    assert camera_topics("realsense_ros", depth_topic="/d") == ("/d", "/camera/camera/depth/camera_info")
    specs = by_name(full_stack_nodes(**parse_arguments({"camera": "realsense_ros"}, FULL_STACK_ARGUMENTS)))
    for name in ("gqcnn_planner", "gqcnn_perception"):
        assert dict(specs[name].remappings)["depth/image_raw"] == "/camera/camera/depth/image_rect_raw"
    # The sim's camera stream goes wherever the planner listens.
    assert dict(specs["yumi_bridge"].remappings)["~/sim/depth"] == "/camera/camera/depth/image_rect_raw"


def test_realsense_node_only_with_the_own_preset_and_in_its_namespace():
    specs = by_name(planner_nodes(**parse_arguments({"realsense": "True", "camera_namespace": "cam"})))
    assert specs["realsense_depth"].namespace == "cam" and specs["realsense_depth"].remappings == ()
    assert dict(specs["gqcnn_planner"].remappings)["depth/image_raw"] == "/cam/depth/image_raw"
    with pytest.raises(ValueError, match="start that driver instead"):
        planner_nodes(**parse_arguments({"realsense": "true", "camera": "realsense_ros"}))


@pytest.mark.parametrize(("values", "message"), [
    ({"realsense": "yes"}, "true or false"), ({"polcy": "cem"}, "unknown launch arguments: polcy"),
    ({"camera": "kinect"}, "camera must be one of"),
])
def test_bad_launch_arguments_are_refused_with_a_reason(values, message):
    with pytest.raises(ValueError, match=message):
        full_stack_nodes(**parse_arguments(values, FULL_STACK_ARGUMENTS))


# ---- the nodes, started with the launch files' command lines ----------------------------------------------------

def file_parameters(path: str, node_name: str) -> dict:
    sections = yaml.safe_load(Path(path).read_text())
    for key, section in sections.items():
        if key.split("/")[-1] == node_name:
            return section["ros__parameters"]
    return {}


def other_backend(node, name: str) -> bool:
    """The bridge declares only its selected backend's parameters; the file also holds the other one's."""
    backend = node.get_parameter("backend").value if node.has_parameter("backend") else None
    return backend == "sim" and (name.startswith("rws_") or name == "extrinsics_file")


def assert_file_reached(node, params_file: str, overrides=()) -> None:
    expected = {**file_parameters(params_file, node.get_name()), **dict(overrides)}
    assert expected or node.get_name() == "camera_tf_publisher", f"no parameters for {node.get_name()} in the file"
    for name, value in expected.items():
        if other_backend(node, name):
            continue
        actual = node.get_parameter(name).value  # raises if the node never declared it
        assert (list(actual) if isinstance(value, list) else actual) == pytest.approx(value), (node.get_name(), name)


def subscribed_topics(node) -> set[str]:
    return {subscription.topic_name for subscription in node.subscriptions}


def test_full_stack_nodes_start_with_the_launch_command_lines_and_get_their_parameters(ros):
    # The bridge params file's backend (sim) with its default scene; the planner's policy given as an argument.
    specs = full_stack_nodes(**parse_arguments({"policy": "ranking", "camera": "realsense_ros"}, FULL_STACK_ARGUMENTS))
    nodes = {spec.name: ros.add(start_in_process(spec, context=ros.context)) for spec in specs}
    assert set(nodes) == {"gqcnn_perception", "gqcnn_planner", "yumi_bridge"}  # sim: no camera_tf_node
    for spec in specs:
        node = nodes[spec.name]
        assert (node.get_name(), node.get_namespace()) == (spec.name, "/")
        assert_file_reached(node, spec.params_files[0], spec.overrides)
    assert nodes["gqcnn_planner"].get_parameter("policy").value == "ranking"
    assert "/camera/camera/depth/image_rect_raw" in subscribed_topics(nodes["gqcnn_planner"])
    assert "/camera/camera/depth/image_rect_raw" in subscribed_topics(nodes["gqcnn_perception"])
    # The node's own publishers, not the graph: the graph fills in through discovery, which CI once saw lag.
    publishers = {publisher.topic_name for publisher in nodes["yumi_bridge"].publishers}
    assert "/camera/camera/depth/image_rect_raw" in publishers  # the sim camera, remapped


def test_realsense_node_starts_in_its_namespace_with_the_file_section(ros):
    spec = by_name(planner_nodes(realsense=True))["realsense_depth"]

    def no_frames(timeout_ms: int):
        time.sleep(0.05)
        raise RuntimeError("no camera in this test")

    node = ros.add(start_in_process(spec, context=ros.context, frame_source=no_frames))
    assert (node.get_name(), node.get_namespace()) == ("realsense_depth", "/camera")
    assert_file_reached(node, spec.params_files[0])


# ---- the launch files' own code, against a stand-in of the launch API -----------------------------------------

class Recorder:
    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


class LaunchConfiguration:
    def __init__(self, name):
        self.name = name

    def perform(self, context):
        return context[self.name]


def load_launch_file(path: Path, monkeypatch) -> types.ModuleType:
    stand_in = {
        "launch": types.SimpleNamespace(LaunchDescription=Recorder),
        "launch.actions": types.SimpleNamespace(DeclareLaunchArgument=Recorder, OpaqueFunction=Recorder),
        "launch.substitutions": types.SimpleNamespace(LaunchConfiguration=LaunchConfiguration),
        "launch_ros": types.SimpleNamespace(),
        "launch_ros.actions": types.SimpleNamespace(Node=Recorder),
    }
    for name, module in stand_in.items():
        monkeypatch.setitem(sys.modules, name, module)
    spec = importlib.util.spec_from_file_location(path.stem.replace(".", "_"), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("package", "launch_file", "arguments", "described"), [
    ("gqcnn_planner", "launch/grasp_planner.launch.py", PLANNER_ARGUMENTS, planner_nodes),
    ("yumi_bridge", "launch/full_stack.launch.py", FULL_STACK_ARGUMENTS, full_stack_nodes),
])
def test_launch_file_declares_the_arguments_and_starts_the_described_nodes(monkeypatch, package, launch_file,
                                                                           arguments, described):
    module = load_launch_file(paths.share_file(package, launch_file), monkeypatch)
    actions = module.generate_launch_description().args[0]
    declared = {a.args[0]: a.kwargs["default_value"] for a in actions if a.kwargs.get("default_value") is not None}
    assert declared == {argument.name: argument.default for argument in arguments}
    opaque = next(a for a in actions if "function" in a.kwargs)
    context = {**declared, "policy": "igq"}  # what `ros2 launch ... policy:=igq` resolves
    launched = {node.kwargs["name"]: node.kwargs for node in opaque.kwargs["function"](context)}
    expected = by_name(described(**parse_arguments({"policy": "igq"}, arguments)))
    assert set(launched) == set(expected)
    for name, spec in expected.items():
        node = launched[name]
        assert (node["package"], node["executable"], node["namespace"]) == (spec.package, spec.executable,
                                                                            spec.namespace)
        assert node["remappings"] == list(spec.remappings)
        assert node["parameters"] == [*spec.params_files, *([dict(spec.overrides)] if spec.overrides else [])]
    assert launched["gqcnn_planner"]["parameters"][-1] == {"policy": "igq"}


def console_scripts(package: str) -> dict[str, str]:
    """executable -> "module:function" from the package's setup.py (what `ros2 run`/launch start)."""
    tree = ast.parse((ROOT / "src" / package / "setup.py").read_text())
    scripts = next(node for node in ast.walk(tree) if isinstance(node, ast.Dict)
                   and any(isinstance(k, ast.Constant) and k.value == "console_scripts" for k in node.keys))
    entries = ast.literal_eval(scripts.values[0])
    return dict(entry.replace(" ", "").split("=", 1) for entry in entries)


def test_every_described_executable_exists_and_runs_the_described_node_class():
    specs = full_stack_nodes(**parse_arguments({"realsense": "true"}, FULL_STACK_ARGUMENTS))
    for spec in specs:
        entry = console_scripts(spec.package).get(spec.executable)
        assert entry, f"{spec.package} has no executable {spec.executable}"
        assert entry.split(":")[0] == spec.node_class.split(":")[0], (spec.executable, entry, spec.node_class)
