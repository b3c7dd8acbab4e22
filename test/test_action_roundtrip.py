"""A PlanGrasp goal with a depth image goes through a real rclpy action server and back."""

import numpy as np
from rclpy.action import ActionServer
from rclpy.node import Node
from ros_waits import DISCOVERY_TIMEOUT

from dexnet_msgs.action import PlanGrasp
from gqcnn_core.camera import CameraIntrinsics
from gqcnn_core.grasp import Grasp2D
from gqcnn_planner.action_client import ThreadSafeActionClient
from gqcnn_planner.ros_conversions import (
    camera_info_to_intrinsics,
    depth_to_image,
    grasp_to_msg,
    image_to_depth,
    intrinsics_to_camera_info,
)


class NearestPointServer(Node):
    """Decodes the goal's image and answers with a grasp at the nearest pixel (exercises the messages)."""

    def __init__(self, **kwargs) -> None:
        super().__init__("test_plan_grasp_server", **kwargs)
        self.server = ActionServer(self, PlanGrasp, "plan_grasp", self.execute)

    def execute(self, goal_handle):
        depth = image_to_depth(goal_handle.request.depth)
        camera = camera_info_to_intrinsics(goal_handle.request.camera_info)
        goal_handle.publish_feedback(PlanGrasp.Feedback(stage="sampling", progress=0.5, best_q=0.0))
        v, u = np.unravel_index(np.nanargmin(depth), depth.shape)
        grasp = Grasp2D((float(u), float(v)), 0.25, float(depth[v, u]), 0.02)
        goal_handle.succeed()
        return PlanGrasp.Result(status=PlanGrasp.Result.SUCCESS, grasp=grasp_to_msg(grasp, 0.9, camera),
                                planning_time=0.01)


def test_plan_grasp_goal_round_trips_through_rclpy(ros):
    ros.add(NearestPointServer(context=ros.context))
    client_node = ros.add(Node("test_plan_grasp_client", context=ros.context))
    client = ThreadSafeActionClient(client_node, PlanGrasp, "plan_grasp")
    assert client.wait_for_server(timeout_sec=DISCOVERY_TIMEOUT)

    camera = CameraIntrinsics.primesense()
    depth = np.full(camera.shape, 0.7, dtype=np.float32)
    depth[100, 400] = 0.55
    depth[0, 0] = np.nan
    goal = PlanGrasp.Goal(depth=depth_to_image(depth, "16UC1"), camera_info=intrinsics_to_camera_info(camera),
                          num_candidates=10)
    feedback = []
    goal_handle = ros.wait(client.send_goal_async(goal, feedback_callback=lambda f: feedback.append(f.feedback)))
    assert goal_handle.accepted
    result = ros.wait(goal_handle.get_result_async()).result

    assert result.status == PlanGrasp.Result.SUCCESS
    assert tuple(result.grasp.center_px) == (400.0, 100.0)
    assert result.grasp.depth == np.float32(0.55)
    assert result.grasp.pose.pose.position.z == np.float32(0.55)
    assert result.grasp.pose.header.frame_id == camera.frame_id
    assert [f.stage for f in feedback] == ["sampling"]
