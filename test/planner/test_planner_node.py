"""The plan_grasp action server through the real rclpy middleware."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from rclpy.node import Node
from rclpy.parameter import Parameter
from ros_waits import DISCOVERY_TIMEOUT
from sensor_msgs.msg import Image, RegionOfInterest
from visualization_msgs.msg import MarkerArray

from dexnet_msgs.action import PlanGrasp
from gqcnn_core.camera import CameraIntrinsics
from gqcnn_planner.action_client import ThreadSafeActionClient
from gqcnn_planner.planner_node import PlannerNode
from gqcnn_planner.ros_conversions import depth_to_image, intrinsics_to_camera_info, mask_to_image, msg_to_grasp

R = PlanGrasp.Result
GRIPPER_YAML = Path(__file__).resolve().parents[2] / "config" / "gripper_yumi.yaml"


class Client:
    def __init__(self, ros, model_path, namespace="/", **params):
        overrides = [Parameter("model_path", value=str(model_path))]
        overrides += [Parameter(k, value=v) for k, v in params.items()]
        self.ros = ros
        self.server = ros.add(PlannerNode(context=ros.context, namespace=namespace, parameter_overrides=overrides))
        self.node = ros.add(Node("plan_grasp_test_client", context=ros.context, namespace=namespace))
        self.action = ThreadSafeActionClient(self.node, PlanGrasp, "plan_grasp")
        assert self.action.wait_for_server(timeout_sec=DISCOVERY_TIMEOUT)

    def send(self, goal, feedback=None, timeout=30.0):
        handle = self.ros.wait(self.action.send_goal_async(goal, feedback_callback=feedback), timeout)
        assert handle.accepted
        return handle, self.ros.wait(handle.get_result_async(), timeout).result


def goal_for(scene, encoding="32FC1", **fields) -> PlanGrasp.Goal:
    goal = PlanGrasp.Goal(depth=depth_to_image(scene.depth, encoding),
                          camera_info=intrinsics_to_camera_info(scene.camera), policy="ranking")
    for key, value in fields.items():
        setattr(goal, key, value)
    return goal


def on_object(scene, grasp_msg) -> bool:
    grasp = msg_to_grasp(grasp_msg)
    p1, p2 = grasp.endpoints_px(scene.camera)
    mid = np.round((p1 + p2) / 2).astype(int)
    return bool(scene.mask[mid[1], mid[0]])


def test_goal_with_image_returns_a_grasp_on_the_object_and_publishes_markers(ros, scene, heuristic_model_path):
    client = Client(ros, heuristic_model_path)
    markers: list[MarkerArray] = []
    got_markers = threading.Event()
    client.node.create_subscription(MarkerArray, "/gqcnn_planner/grasp_markers",
                                    lambda m: (markers.append(m), got_markers.set()), 10)
    feedback = []
    _, result = client.send(goal_for(scene, "16UC1", policy="cem", segmask=mask_to_image(scene.mask)),
                            feedback=lambda f: feedback.append(f.feedback.stage))
    assert result.status == R.SUCCESS, result.message
    assert on_object(scene, result.grasp)
    assert result.grasp.pose.header.frame_id == scene.camera.frame_id
    assert 0 < len(result.candidates) <= 10 and result.candidates[0].q_value == result.grasp.q_value
    assert result.grasp.segment_id == 1 == result.candidates[0].segment_id  # the one object of the mask
    assert not result.grasp_pose.header.frame_id and not result.candidate_poses.poses  # no target_frame asked
    assert result.planning_time >= result.sampling_time + result.inference_time > 0
    assert "sampling" in feedback and "cem_round_1" in feedback
    assert got_markers.wait(5.0)
    kinds = {(m.ns, m.type) for m in markers[-1].markers}
    assert ("grasp_candidates", 5) in kinds and ("chosen_grasp", 5) in kinds  # LINE_LISTs


def test_goal_without_image_uses_the_subscribed_frames(ros, scene, heuristic_model_path):
    client = Client(ros, heuristic_model_path, frame_timeout=0.5)
    _, result = client.send(PlanGrasp.Goal())
    assert result.status == R.NO_IMAGE and "no depth image" in result.message and "0.5 s" in result.message
    depth_pub = client.node.create_publisher(Image, "depth/image_raw", 10)
    info_pub = client.node.create_publisher(type(intrinsics_to_camera_info(scene.camera)), "depth/camera_info", 10)
    stamp = client.node.get_clock().now().to_msg()
    depth_msg = depth_to_image(scene.depth)
    depth_msg.header.stamp = stamp
    info = intrinsics_to_camera_info(scene.camera)
    info.header.stamp = stamp
    for _ in range(50):  # until the server has a frame (discovery takes a moment)
        info_pub.publish(info)
        depth_pub.publish(depth_msg)
        if client.server.latest_frame()[1] is not None:
            break
        threading.Event().wait(0.1)
    _, result = client.send(PlanGrasp.Goal(policy="ranking"))
    assert result.status == R.SUCCESS, result.message
    assert on_object(scene, result.grasp)  # segmented by the planner itself: no mask was sent


def test_cancel_stops_planning(ros, scene, heuristic_model_path):
    client = Client(ros, heuristic_model_path, cem_rounds=200)
    canceled = []

    def cancel_on_first_feedback(_):
        if not canceled:  # never block in a callback: the cancel response needs this node's executor
            canceled.append(handle_holder[0].cancel_goal_async())

    handle_holder = []
    future = client.action.send_goal_async(goal_for(scene, policy="cem"), feedback_callback=cancel_on_first_feedback)
    handle_holder.append(ros.wait(future))
    result = ros.wait(handle_holder[0].get_result_async(), 30.0).result
    assert result.status == R.CANCELED, result.message
    assert len(ros.wait(canceled[0]).goals_canceling) == 1
    _, again = client.send(goal_for(scene))  # and it keeps serving
    assert again.status == R.SUCCESS


def bad_goals(scene):
    """Goals accepted (they may succeed on what the planner has received) that then fail with a status."""
    nan = goal_for(scene)
    nan.depth = depth_to_image(np.full_like(scene.depth, np.nan))
    zero = goal_for(scene, "16UC1")
    zero.depth = depth_to_image(np.zeros_like(scene.depth), "16UC1")
    empty_mask = goal_for(scene, segmask=mask_to_image(np.zeros(scene.depth.shape, bool)))
    zero_k = goal_for(scene)
    zero_k.camera_info.k = [0.0] * 9
    one = PlanGrasp.Goal(depth=depth_to_image(np.full((1, 1), 0.7, np.float32)),
                         camera_info=intrinsics_to_camera_info(CameraIntrinsics(500, 500, 0, 0, 1, 1)))
    flat = goal_for(scene)
    flat.depth = depth_to_image(np.full_like(scene.depth, 0.7))
    far = goal_for(scene)
    far.depth = depth_to_image(np.full_like(scene.depth, 1e30))
    return [("nan", nan, R.INVALID_INPUT, "no valid pixels"), ("zero", zero, R.INVALID_INPUT, "no valid pixels"),
            ("empty mask", empty_mask, R.INVALID_INPUT, "selects no pixels"),
            ("zero K", zero_k, R.INVALID_INPUT, "all-zero K"), ("1x1", one, R.INVALID_INPUT, "too small"),
            ("flat", flat, R.NO_VALID_GRASP, "no antipodal"), ("1e30 m", far, R.INVALID_INPUT, "1e+30 m")]


def rejected_goals(scene):
    """Goals that certainly fail: refused in the goal callback, before any work."""
    rgb = goal_for(scene)
    rgb.depth.encoding = "rgb8"
    small = goal_for(scene)
    small.depth = depth_to_image(scene.depth[:240, :320])
    truncated = goal_for(scene)
    truncated.depth.data = bytes(truncated.depth.data)[:1000]
    mask_size = goal_for(scene, segmask=mask_to_image(np.ones((10, 10), bool)))
    roi = goal_for(scene, roi=RegionOfInterest(x_offset=600, y_offset=400, width=100, height=100))
    k22 = goal_for(scene)
    k22.camera_info.k = [525.0, 0.0, 319.5, 0.0, 525.0, 239.5, 0.0, 0.0, 0.0]
    policy = goal_for(scene, policy="best")
    return {"encoding": rgb, "size": small, "truncated": truncated, "mask size": mask_size, "roi": roi,
            "K[2][2] = 0": k22, "policy": policy}


def test_bad_input_gets_a_status_and_message_and_the_node_keeps_serving(ros, scene, heuristic_model_path):
    client = Client(ros, heuristic_model_path)
    for name, goal, status, message in bad_goals(scene):
        _, result = client.send(goal)
        assert (result.status, name) == (status, name), result.message
        assert message in result.message, (name, result.message)
    for name, goal in rejected_goals(scene).items():
        handle = ros.wait(client.action.send_goal_async(goal), 30.0)
        assert not handle.accepted, name
    _, result = client.send(goal_for(scene))
    assert result.status == R.SUCCESS


def test_huge_image_is_refused(ros, scene, heuristic_model_path):
    client = Client(ros, heuristic_model_path)
    camera = CameraIntrinsics(500, 500, 4000, 4000, 8000, 8000)
    goal = PlanGrasp.Goal(depth=depth_to_image(np.full((8000, 8000), 0.7, np.float32), "16UC1"),
                          camera_info=intrinsics_to_camera_info(camera))
    handle = ros.wait(client.action.send_goal_async(goal), 120.0)
    assert not handle.accepted  # refused in the goal callback, before decoding 128 MB
    _, result = client.send(goal_for(scene))
    assert result.status == R.SUCCESS


def test_missing_model_file_is_a_model_error_not_a_crash(ros, scene, tmp_path):
    client = Client(ros, tmp_path / "missing.onnx")
    for _ in range(2):
        _, result = client.send(goal_for(scene))
        assert result.status == R.MODEL_ERROR
        assert "model file not found" in result.message


def test_gripper_file_sets_the_jaw_opening_and_a_bad_one_is_refused(ros, scene, heuristic_model_path, tmp_path):
    wide = tmp_path / "wide.yaml"
    wide.write_text(GRIPPER_YAML.read_text().replace("max_width: 0.05", "max_width: 0.10")
                    .replace("palm_width: 0.09", "palm_width: 0.13"))
    # One namespace per server: a node destroyed while the executor still waits on it is freed late, and a new node
    # of the same name beside it once left the new client never seeing its server (CI, 60 s).
    for namespace, gripper_file, across_the_long_side in (("/default", "", False), ("/wide", str(wide), True)):
        client = Client(ros, heuristic_model_path, namespace=namespace, gripper_file=gripper_file, top_k=1000)
        _, result = client.send(goal_for(scene, policy="ranking"))
        assert result.status == R.SUCCESS
        # The 3 x 7 cm box: only a gripper opening to 10 cm also grasps it across its 7 cm side.
        assert any(c.width > 0.06 for c in result.candidates) == across_the_long_side

    broken = tmp_path / "broken.yaml"
    broken.write_text("max_width: 0.05\n")
    client = Client(ros, heuristic_model_path, namespace="/broken", gripper_file=str(broken))
    _, result = client.send(goal_for(scene))
    assert result.status == R.INVALID_INPUT and "gripper_file" in result.message and "missing" in result.message
