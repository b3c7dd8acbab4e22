"""`make demo`: the launch flow (`ros2 launch yumi_bridge full_stack.launch.py`, then `pick`) with its defaults.

The nodes of yumi_bridge.launch_description's full stack start in-process on the real rclpy middleware with exactly
the launch file's parameter files, remappings and default arguments: the execute node's sim backend drops the
default object (SimSettings' sim_mesh_file and sim_seed, one place) on the MuJoCo table and streams its depth and
camera_info on the camera topics as a camera driver would, the perception node segments the object, and the planner
plans on the subscribed frames. The demo draws the ranking and CEM candidates (demo_output/demo_grasp_*.png), then
runs one pick as `ros2 run yumi_bridge pick` does: a PlanGrasp goal with the planner's own policy, an ExecuteGrasp
goal with the planned grasp (approach, close, lift, transport, shake, release). It prints one JSON line per step.
Exit code: 0 when the object is held, 1 otherwise (no model, planning or execution failed).
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

OUT = Path("demo_output")


def main() -> int:
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    from PIL import Image as PILImage

    from dexnet_msgs.action import PlanGrasp
    from gqcnn_core.model import GQCNN, ModelError
    from gqcnn_core.paths import default_model_path
    from gqcnn_planner.launch_description import parse_arguments, start_in_process
    from gqcnn_planner.overlay import draw_grasps
    from gqcnn_planner.ros_conversions import grasp_msg_summary, msg_to_grasp
    from gqcnn_planner.ros_thread import RosThread
    from gqcnn_planner.sampling import GraspCandidates
    from yumi_bridge.execute_grasp_node import ExecuteGraspNode
    from yumi_bridge.launch_description import FULL_STACK_ARGUMENTS, full_stack_nodes
    from yumi_bridge.pick_node import PickClient

    model_path = default_model_path()
    try:
        card = GQCNN.load(model_path).card
    except ModelError as err:
        print(f"demo: cannot plan without a trained GQ-CNN: {err}", file=sys.stderr)
        return 1

    with RosThread() as ros:
        # The launch file's defaults: no launch argument given.
        specs = full_stack_nodes(**parse_arguments({}, FULL_STACK_ARGUMENTS))
        nodes = [ros.add(start_in_process(spec, context=ros.context)) for spec in specs]
        bridge = next(node for node in nodes if isinstance(node, ExecuteGraspNode))
        planner = next(node for node in nodes if node.get_name() == "gqcnn_planner")
        scene = bridge.backend.scene
        mesh = bridge.backend.settings.sim_mesh_file or "the default 35 x 90 x 50 mm box"
        print(f"scene: {mesh} dropped on the simulated table (seed {scene.seed}), {scene.camera.width}x"
              f"{scene.camera.height} depth; model {Path(model_path).name} "
              f"({card.get('network', {}).get('preset', '?')} preset); min_q {bridge.config.min_q}")
        pick = ros.add(PickClient(context=ros.context))
        missing = pick.wait_for_servers()
        if missing:
            print(f"demo: {missing}", file=sys.stderr)
            return 1
        deadline = time.time() + 10.0
        while time.time() < deadline and (planner.latest_frame()[1] is None or planner._latest_mask is None):
            time.sleep(0.1)

        OUT.mkdir(exist_ok=True)
        for policy in ("ranking", "cem"):
            result = pick.plan(ros, policy)
            if result.status != PlanGrasp.Result.SUCCESS:
                print(f"{policy}: failed ({result.status}): {result.message}")
                continue
            print(json.dumps({"policy": policy, **grasp_msg_summary(result.grasp),
                              "planning_time": round(result.planning_time, 3),
                              "stages_s": {"preprocess": round(result.preprocess_time, 3),
                                           "sampling": round(result.sampling_time, 3),
                                           "inference": round(result.inference_time, 3)}}))
            grasps = [msg_to_grasp(c) for c in result.candidates]
            candidates = GraspCandidates(np.array([x.center for x in grasps]), np.array([x.angle for x in grasps]),
                                         np.array([x.depth for x in grasps]), np.array([x.width for x in grasps]),
                                         np.array([c.width_px for c in result.candidates]))
            overlay = draw_grasps(scene.depth, candidates, np.array([c.q_value for c in result.candidates]), scale=2)
            PILImage.fromarray(overlay).save(OUT / f"demo_grasp_{policy}.png")
            print(f"overlay written to {OUT / f'demo_grasp_{policy}.png'}")

        outcome = pick.pick(ros)  # what `ros2 run yumi_bridge pick` does next in the launch flow
        print(json.dumps({"pick": asdict(outcome)}))
    if not outcome.success:
        print(f"demo: the pick failed at {outcome.stage}: {outcome.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
