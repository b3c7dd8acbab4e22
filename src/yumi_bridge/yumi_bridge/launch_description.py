"""What `ros2 launch yumi_bridge full_stack.launch.py` starts, as plain data a test can start too.

The planner stack of gqcnn_planner.launch_description (same `NodeSpec`, `Argument`, `parse_arguments`,
`start_in_process`, `to_launch_node`) plus the yumi_bridge execute node:

    from gqcnn_planner.launch_description import parse_arguments, start_in_process
    from yumi_bridge.launch_description import FULL_STACK_ARGUMENTS, full_stack_nodes
    specs = full_stack_nodes(**parse_arguments({}, FULL_STACK_ARGUMENTS))   # the launch file's defaults
    nodes = [ros.add(start_in_process(spec, context=ros.context)) for spec in specs]

With backend sim the simulated scene's depth stream is remapped onto the planner's camera topics, so the
planner plans on it (leave realsense off); with rws the remaps match nothing.

The camera's TF: with backend rws camera_tf_node latches base -> camera optical frame from the extrinsics file
(`publish_tf`); with backend sim it is not started, because the execute node latches the simulated scene's true
camera pose on /tf_static itself (per scene), and two latched publishers of one transform would leave RViz and tf2
with whichever message arrived last. The backend is the `backend` argument, else the bridge params file's.
"""

from __future__ import annotations

from gqcnn_core.config_file import read_yaml_mapping
from gqcnn_core.paths import BRIDGE_PARAMS_FILE, PLANNER_PARAMS_FILE
from gqcnn_planner.launch_description import PLANNER_ARGUMENTS, Argument, NodeSpec, camera_topics, planner_nodes

BRIDGE_NODE_CLASS = "yumi_bridge.execute_grasp_node:ExecuteGraspNode"
BRIDGE_NODE_NAME = "yumi_bridge"
DEFAULT_BACKEND = "sim"  # execute_grasp_node.NodeSettings.backend (not imported: it would load the node here)

FULL_STACK_ARGUMENTS = (
    *PLANNER_ARGUMENTS,
    Argument("backend", "", "sim (MuJoCo) or rws (real YuMi); empty: the bridge params file's backend"),
    Argument("bridge_params_file", str(BRIDGE_PARAMS_FILE), "yumi_bridge parameters"),
)


def bridge_node(backend: str = "", bridge_params_file: str = str(BRIDGE_PARAMS_FILE),
                depth_topic: str = "/camera/depth/image_raw",
                camera_info_topic: str = "/camera/depth/camera_info") -> NodeSpec:
    """The execute node; the sim's camera stream goes to the given topics (a camera driver's, as the planner's)."""
    return NodeSpec("yumi_bridge", "execute_grasp_node", BRIDGE_NODE_NAME, BRIDGE_NODE_CLASS,
                    params_files=(bridge_params_file,), overrides=(("backend", backend),) if backend else (),
                    remappings=(("~/sim/depth", depth_topic), ("~/sim/camera_info", camera_info_topic)))


def selected_backend(backend: str = "", bridge_params_file: str = str(BRIDGE_PARAMS_FILE)) -> str:
    """The backend the execute node will run: the argument when given, else the params file's (else the default)."""
    if backend:
        return backend
    for key, section in read_yaml_mapping(bridge_params_file, "bridge parameters").items():
        if key.split("/")[-1] == BRIDGE_NODE_NAME and isinstance(section, dict):
            return str((section.get("ros__parameters") or {}).get("backend", DEFAULT_BACKEND))
    return DEFAULT_BACKEND


def full_stack_nodes(params_file: str = str(PLANNER_PARAMS_FILE), policy: str = "", camera: str = "own",
                     realsense: bool = False, camera_namespace: str = "camera", publish_tf: bool = True,
                     depth_topic: str = "", camera_info_topic: str = "", backend: str = "",
                     bridge_params_file: str = str(BRIDGE_PARAMS_FILE)) -> list[NodeSpec]:
    """Planner stack + execute node, all on the same camera topics; the camera TF node only with a real robot."""
    sim = selected_backend(backend, bridge_params_file) == "sim"  # the sim latches its own camera pose
    planner = planner_nodes(params_file=params_file, policy=policy, camera=camera, realsense=realsense,
                            camera_namespace=camera_namespace, publish_tf=publish_tf and not sim,
                            depth_topic=depth_topic, camera_info_topic=camera_info_topic)
    depth, info = camera_topics(camera, camera_namespace, depth_topic, camera_info_topic)
    return [*planner, bridge_node(backend, bridge_params_file, depth, info)]
