"""What `ros2 launch gqcnn_planner grasp_planner.launch.py` starts, as plain data a test can start too.

The launch file declares `PLANNER_ARGUMENTS`, resolves them and turns each `NodeSpec` of `planner_nodes(...)`
into a launch_ros `Node` (`to_launch_node`). Tests call the same function with the same arguments and start the
nodes in-process with exactly the command line `ros2 launch` would give them:

    from gqcnn_planner.launch_description import planner_nodes, start_in_process
    specs = planner_nodes(**parse_arguments({"policy": "ranking"}, PLANNER_ARGUMENTS))
    nodes = [ros.add(start_in_process(spec, context=ros.context)) for spec in specs]

API:
- `NodeSpec`: package, executable, name, namespace, params_files (in order; later files win), overrides (launch
  arguments that were given; they win over the files), remappings, node_class ("module:Class" the executable
  runs). `spec.ros_args()` is the node's `--ros-args ...` command line.
- `Argument` / `PLANNER_ARGUMENTS`: name, default (a string, as launch passes it) and help of each launch argument;
  `parse_arguments(values, arguments)` turns launch's strings into the keyword arguments of `planner_nodes`.
- `planner_nodes(...)` -> the planner stack; `camera_topics(...)` -> the depth and camera_info topics of a preset.
- yumi_bridge.launch_description builds the full stack (this plus the bridge) the same way.

A launch argument left at its default ("") does not override the parameter files: `policy:=cem` sets the
planner's policy, no `policy` keeps the params file's.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gqcnn_core.paths import PLANNER_PARAMS_FILE
from gqcnn_planner.ros_conversions import REALSENSE_ROS_TOPICS

# Depth and camera_info topics of each camera preset. "own": this package's realsense_node (realsense:=true) or
# any driver publishing <camera_namespace>/depth/image_raw; "realsense_ros": realsense2_camera's rs_launch.py
# defaults (namespace camera, node camera, depth stream rectified), the nodes' camera_preset of the same name.
CAMERA_PRESETS = {
    "own": ("/{namespace}/depth/image_raw", "/{namespace}/depth/camera_info"),
    "realsense_ros": REALSENSE_ROS_TOPICS,
}


@dataclass(frozen=True)
class Argument:
    """A launch argument: name, default as launch passes it (a string), help text."""

    name: str
    default: str
    help: str


PLANNER_ARGUMENTS = (
    Argument("params_file", str(PLANNER_PARAMS_FILE), "parameters of the planner, perception and RealSense nodes"),
    Argument("policy", "", "ranking | cem | random | igq; empty: the params file's policy"),
    Argument("camera", "own", "topic preset: own (<camera_namespace>/depth/image_raw) or realsense_ros "
                              "(/camera/camera/depth/image_rect_raw, as realsense2_camera publishes)"),
    Argument("realsense", "false", "start this package's RealSense node (camera:=own only)"),
    Argument("camera_namespace", "camera", "namespace of the own preset's topics and of the RealSense node"),
    Argument("publish_tf", "true", "publish base -> camera optical frame on /tf_static from the extrinsics file"),
    Argument("depth_topic", "", "depth image topic; empty: the camera preset's"),
    Argument("camera_info_topic", "", "camera_info topic; empty: the camera preset's"),
)


@dataclass(frozen=True)
class NodeSpec:
    """One node as a launch file starts it; see the module docstring."""

    package: str
    executable: str
    name: str
    node_class: str
    namespace: str = ""
    params_files: tuple[str, ...] = ()
    overrides: tuple[tuple[str, Any], ...] = ()
    remappings: tuple[tuple[str, str], ...] = ()

    def ros_args(self) -> list[str]:
        """The `--ros-args` command line `ros2 launch` gives the node (name, namespace, files, overrides, remaps)."""
        args = ["--ros-args", "-r", f"__node:={self.name}"]
        if self.namespace:
            args += ["-r", f"__ns:=/{self.namespace.strip('/')}"]
        for path in self.params_files:
            args += ["--params-file", path]
        for name, value in self.overrides:
            args += ["-p", f"{name}:={json.dumps(value)}"]  # JSON is YAML: strings stay strings
        for source, target in self.remappings:
            args += ["-r", f"{source}:={target}"]
        return args


def parse_arguments(values: Mapping[str, str], arguments: tuple[Argument, ...] = PLANNER_ARGUMENTS) -> dict:
    """Launch's string values (missing ones at their defaults) as keyword arguments; booleans parsed."""
    known = {argument.name: argument.default for argument in arguments}
    unknown = set(values) - set(known)
    if unknown:
        raise ValueError(f"unknown launch arguments: {', '.join(sorted(unknown))}")
    parsed = {**known, **values}
    for name, default in known.items():
        if default in ("true", "false"):
            text = parsed[name].strip().lower()
            if text not in ("true", "false"):
                raise ValueError(f"launch argument {name} must be true or false, got {parsed[name]!r}")
            parsed[name] = text == "true"
    return parsed


def camera_topics(camera: str = "own", camera_namespace: str = "camera", depth_topic: str = "",
                  camera_info_topic: str = "") -> tuple[str, str]:
    """Depth and camera_info topics: the preset's, each replaced by an explicit topic when given."""
    if camera not in CAMERA_PRESETS:
        raise ValueError(f"camera must be one of {', '.join(CAMERA_PRESETS)}, got {camera!r}")
    namespace = camera_namespace.strip("/") or "camera"
    depth, info = (topic.format(namespace=namespace) for topic in CAMERA_PRESETS[camera])
    return depth_topic or depth, camera_info_topic or info


def planner_nodes(params_file: str = str(PLANNER_PARAMS_FILE), policy: str = "", camera: str = "own",
                  realsense: bool = False, camera_namespace: str = "camera", publish_tf: bool = True,
                  depth_topic: str = "", camera_info_topic: str = "") -> list[NodeSpec]:
    """Perception and planner on the chosen camera topics, the static camera TF, the own RealSense node if asked."""
    if realsense and camera != "own":
        raise ValueError(f"realsense:=true starts this package's RealSense node, which publishes the own preset's "
                         f"topics; with camera:={camera} start that driver instead")
    depth, info = camera_topics(camera, camera_namespace, depth_topic, camera_info_topic)
    camera_remaps = (("depth/image_raw", depth), ("depth/camera_info", info))
    nodes = []
    if realsense:
        # Publishes depth/image_raw and depth/camera_info in its namespace: the own preset's topics.
        nodes.append(NodeSpec("gqcnn_planner", "realsense_node", "realsense_depth",
                              "gqcnn_planner.realsense_node:RealSenseNode", namespace=camera_namespace.strip("/"),
                              params_files=(params_file,),
                              remappings=camera_remaps if depth_topic or camera_info_topic else ()))
    if publish_tf:
        nodes.append(NodeSpec("gqcnn_planner", "camera_tf_node", "camera_tf_publisher",
                              "gqcnn_planner.camera_tf_node:CameraTfNode", params_files=(params_file,)))
    nodes.append(NodeSpec("gqcnn_planner", "perception_node", "gqcnn_perception",
                          "gqcnn_planner.perception_node:PerceptionNode", params_files=(params_file,),
                          remappings=camera_remaps))
    nodes.append(NodeSpec("gqcnn_planner", "planner_node", "gqcnn_planner", "gqcnn_planner.planner_node:PlannerNode",
                          params_files=(params_file,), overrides=(("policy", policy),) if policy else (),
                          remappings=camera_remaps))
    return nodes


def start_in_process(spec: NodeSpec, **node_kwargs: Any):
    """Construct the spec's node class with the spec's command line (tests; rclpy must be initialised)."""
    module, _, class_name = spec.node_class.partition(":")
    node_class = getattr(importlib.import_module(module), class_name)
    return node_class(cli_args=spec.ros_args(), **node_kwargs)


def to_launch_node(spec: NodeSpec):
    """The launch_ros `Node` action for a spec (imported here so this module needs no launch install)."""
    from launch_ros.actions import Node

    return Node(package=spec.package, executable=spec.executable, name=spec.name, namespace=spec.namespace,
                parameters=[*spec.params_files, *([dict(spec.overrides)] if spec.overrides else [])],
                remappings=list(spec.remappings), output="screen")
