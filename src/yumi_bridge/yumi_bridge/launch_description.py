"""What `ros2 launch yumi_bridge full_stack.launch.py` starts, as plain data a test can start too.

The planner stack of gqcnn_planner.launch_description (same `NodeSpec`, `Argument`, `parse_arguments`,
`start_in_process`, `to_launch_node`) plus the yumi_bridge execute node:

    from gqcnn_planner.launch_description import parse_arguments, start_in_process
    from yumi_bridge.launch_description import FULL_STACK_ARGUMENTS, full_stack_nodes
    specs = full_stack_nodes(**parse_arguments({}, FULL_STACK_ARGUMENTS))   # the launch file's defaults
    nodes = [ros.add(start_in_process(spec, context=ros.context)) for spec in specs]

With backend sim the simulated scene's depth stream is remapped onto the planner's camera topics, so the
planner plans on it (leave realsense off); with rws the remaps match nothing.
"""

from __future__ import annotations

from gqcnn_core.paths import BRIDGE_PARAMS_FILE, PLANNER_PARAMS_FILE
from gqcnn_planner.launch_description import PLANNER_ARGUMENTS, Argument, NodeSpec, camera_topics, planner_nodes

BRIDGE_NODE_CLASS = "yumi_bridge.execute_grasp_node:ExecuteGraspNode"

FULL_STACK_ARGUMENTS = (
    *PLANNER_ARGUMENTS,
    Argument("backend", "", "sim (MuJoCo) or rws (real YuMi); empty: the bridge params file's backend"),
    Argument("bridge_params_file", str(BRIDGE_PARAMS_FILE), "yumi_bridge parameters"),
)


def bridge_node(backend: str = "", bridge_params_file: str = str(BRIDGE_PARAMS_FILE),
                depth_topic: str = "/camera/depth/image_raw",
                camera_info_topic: str = "/camera/depth/camera_info") -> NodeSpec:
    """The execute node; the sim's camera stream goes to the given topics (a camera driver's, as the planner's)."""
    return NodeSpec("yumi_bridge", "execute_grasp_node", "yumi_bridge", BRIDGE_NODE_CLASS,
                    params_files=(bridge_params_file,), overrides=(("backend", backend),) if backend else (),
                    remappings=(("~/sim/depth", depth_topic), ("~/sim/camera_info", camera_info_topic)))


def full_stack_nodes(params_file: str = str(PLANNER_PARAMS_FILE), policy: str = "", camera: str = "own",
                     realsense: bool = False, camera_namespace: str = "camera", publish_tf: bool = True,
                     depth_topic: str = "", camera_info_topic: str = "", backend: str = "",
                     bridge_params_file: str = str(BRIDGE_PARAMS_FILE)) -> list[NodeSpec]:
    """Planner stack + execute node, all on the same camera topics."""
    planner = planner_nodes(params_file=params_file, policy=policy, camera=camera, realsense=realsense,
                            camera_namespace=camera_namespace, publish_tf=publish_tf, depth_topic=depth_topic,
                            camera_info_topic=camera_info_topic)
    depth, info = camera_topics(camera, camera_namespace, depth_topic, camera_info_topic)
    return [*planner, bridge_node(backend, bridge_params_file, depth, info)]
