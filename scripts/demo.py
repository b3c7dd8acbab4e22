"""`make demo`: the whole stack on the built-in simulated scene.

A held-out object (test split: never seen in training) is dropped onto the table of the yumi_bridge MuJoCo
simulation and rendered with the Dex-Net camera model. The yumi_bridge (sim backend), perception and planner
nodes run in-process on the real rclpy middleware, wired as launch/full_stack.launch.py wires them: the sim streams
the rendered depth and camera_info on the camera topics like a camera driver, the perception node segments the
object, the pick client's PlanGrasp goals (no image: the planner uses the
subscribed frames) return the GQ-CNN's grasps, and ExecuteGrasp runs the CEM grasp in the simulation (lift,
transport, shake). The demo prints grasps, timings and the outcome and writes overlays to demo_output/.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

OUT = Path("demo_output")


def held_out_object() -> tuple[str, Path]:
    """The first loadable test-split pybullet object, preprocessed as in the dataset, saved as a mesh file."""
    from dexnet import dataset
    from dexnet.generate import DEFAULT_GRIPPER
    from dexnet.mesh import MeshError, load_object, pybullet_object_paths
    from gqcnn_core.gripper import load_gripper

    for path in pybullet_object_paths():
        if dataset.object_split(f"pybullet/{path.stem}") != "test":
            continue
        try:
            mesh = load_object(path, load_gripper(DEFAULT_GRIPPER))
        except MeshError:
            continue
        OUT.mkdir(exist_ok=True)
        target = OUT / f"heldout_{path.stem}.obj"
        mesh.export(target)
        return path.stem, target
    raise RuntimeError("no loadable held-out object")


def main() -> int:
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    from rclpy.parameter import Parameter

    from dexnet_msgs.action import PlanGrasp
    from gqcnn_core.model import GQCNN, ModelError
    from gqcnn_core.paths import default_model_path
    from gqcnn_planner.background_executor import BackgroundExecutor
    from gqcnn_planner.overlay import draw_grasps
    from gqcnn_planner.perception_node import PerceptionNode
    from gqcnn_planner.planner_node import PlannerNode
    from gqcnn_planner.ros_conversions import grasp_msg_summary, msg_to_grasp
    from gqcnn_planner.sampling import GraspCandidates
    from yumi_bridge.execute_grasp_node import ExecuteGraspNode
    from yumi_bridge.pick_node import PickClient

    model_path = default_model_path()
    try:
        card = GQCNN.load(model_path).card
    except ModelError as err:
        print(f"demo: cannot plan without a trained GQ-CNN: {err}", file=sys.stderr)
        return 1
    name, mesh_file = held_out_object()

    with BackgroundExecutor() as ros:
        # The sim's camera stream goes where a camera driver's would (launch/full_stack.launch.py does the same).
        camera_topics = ["--ros-args", "-r", "~/sim/depth:=depth/image_raw",
                         "-r", "~/sim/camera_info:=depth/camera_info"]
        bridge = ros.add(ExecuteGraspNode(context=ros.context, cli_args=camera_topics, parameter_overrides=[
            Parameter("backend", value="sim"), Parameter("sim_mesh_file", value=str(mesh_file)),
            Parameter("sim_seed", value=1)]))
        depth, camera = bridge.backend.scene.depth, bridge.backend.scene.camera
        print(f"scene: held-out object pybullet/{name} dropped on the simulated table, {camera.width}x{camera.height} "
              f"depth, model {Path(model_path).name} ({card.get('network', {}).get('preset', '?')} preset)")
        ros.add(PerceptionNode(context=ros.context))
        planner = ros.add(PlannerNode(context=ros.context))
        pick = ros.add(PickClient(context=ros.context))
        missing = pick.wait_for_servers()
        if missing:
            print(f"demo: {missing}", file=sys.stderr)
            return 1
        deadline = time.time() + 10.0
        while time.time() < deadline and (planner.latest_frame()[1] is None or planner._latest_mask is None):
            time.sleep(0.1)

        planned, chosen = [], None
        for policy in ("ranking", "cem"):
            result = pick.plan(ros, policy)
            if result.status != PlanGrasp.Result.SUCCESS:
                print(f"{policy}: failed ({result.status}): {result.message}")
                continue
            chosen = result.grasp
            print(json.dumps({"policy": policy, **grasp_msg_summary(chosen),
                              "planning_time": round(result.planning_time, 3),
                              "stages_s": {"preprocess": round(result.preprocess_time, 3),
                                           "sampling": round(result.sampling_time, 3),
                                           "inference": round(result.inference_time, 3)}}))
            grasps = [msg_to_grasp(c) for c in result.candidates]
            candidates = GraspCandidates(np.array([x.center for x in grasps]), np.array([x.angle for x in grasps]),
                                         np.array([x.depth for x in grasps]), np.array([x.width for x in grasps]),
                                         np.array([c.width_px for c in result.candidates]))
            OUT.mkdir(exist_ok=True)
            from PIL import Image as PILImage

            overlay = draw_grasps(depth, candidates, np.array([c.q_value for c in result.candidates]), scale=2)
            PILImage.fromarray(overlay).save(OUT / f"demo_grasp_{policy}.png")
            planned.append(str(OUT / f"demo_grasp_{policy}.png"))
        if not planned:
            return 1
        print(f"overlays written to {', '.join(planned)}")
        phases: list[str] = []
        outcome = pick.execute(ros, chosen, phases)
        print(json.dumps({"execute": "sim", "status": outcome.status, "success": outcome.success,
                          "final_width": round(outcome.final_width, 4), "message": outcome.message,
                          "phases": list(dict.fromkeys(phases))}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
