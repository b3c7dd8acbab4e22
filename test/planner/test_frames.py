"""TF: the static camera transform on /tf_static and goals answered in a target_frame (real rclpy middleware)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from rclpy.node import Node
from rclpy.parameter import Parameter

from dexnet_msgs.action import PlanGrasp
from gqcnn_core.frames import load_extrinsics
from gqcnn_core.paths import DEFAULT_EXTRINSICS_FILE
from gqcnn_planner.camera_tf_node import STATIC_TF_QOS, CameraTfNode
from gqcnn_planner.node_settings import NodeStartError
from gqcnn_planner.ros_conversions import msg_to_pose, transform_to_matrix
from tf2_msgs.msg import TFMessage

R = PlanGrasp.Result


def test_a_late_subscriber_receives_the_static_camera_transform(ros):
    ros.add(CameraTfNode(context=ros.context))
    time.sleep(1.0)  # published long before anyone listens: transient local must still deliver it
    probe = ros.add(Node("tf_static_probe", context=ros.context))
    received: list[TFMessage] = []
    got = threading.Event()
    probe.create_subscription(TFMessage, "/tf_static", lambda m: (received.append(m), got.set()), STATIC_TF_QOS)
    assert got.wait(10.0)
    (transform,) = received[0].transforms
    extrinsics = load_extrinsics(DEFAULT_EXTRINSICS_FILE)
    assert (transform.header.frame_id, transform.child_frame_id) == (extrinsics.base_frame, extrinsics.camera_frame)
    np.testing.assert_allclose(transform_to_matrix(transform.transform), extrinsics.base_camera, atol=1e-9)


def test_a_bad_extrinsics_file_stops_the_tf_node_with_a_reason(ros, tmp_path):
    bad = tmp_path / "extrinsics.yaml"
    bad.write_text("translation: [0, 0]\n")
    with pytest.raises(NodeStartError, match="missing keys"):
        CameraTfNode(context=ros.context, parameter_overrides=[Parameter("extrinsics_file", value=str(bad))])


def test_target_frame_returns_the_grasp_and_candidates_in_the_base_frame(ros, scene, heuristic_model_path):
    from test_planner_node import Client, goal_for

    extrinsics = load_extrinsics(DEFAULT_EXTRINSICS_FILE)
    assert scene.camera.frame_id == extrinsics.camera_frame  # the goal's image is in the calibrated camera frame
    client = Client(ros, heuristic_model_path)
    _, result = client.send(goal_for(scene, target_frame=extrinsics.base_frame))
    assert result.status == R.SUCCESS, result.message
    assert result.grasp_pose.header.frame_id == extrinsics.base_frame
    expected = extrinsics.base_camera @ msg_to_pose(result.grasp.pose.pose)
    np.testing.assert_allclose(msg_to_pose(result.grasp_pose.pose), expected, atol=1e-6)
    assert len(result.candidate_poses.poses) == len(result.candidates)
    for pose, candidate in zip(result.candidate_poses.poses, result.candidates, strict=True):
        np.testing.assert_allclose(msg_to_pose(pose), extrinsics.base_camera @ msg_to_pose(candidate.pose.pose),
                                   atol=1e-6)
    # The camera looks straight down from 0.70 m: the grasp is on the table top, approaching downwards.
    assert 0.0 < result.grasp_pose.pose.position.z < 0.1
    assert msg_to_pose(result.grasp_pose.pose)[2, 2] == pytest.approx(-1.0, abs=0.2)

    _, result = client.send(goal_for(scene, target_frame="no_such_frame"))
    assert result.status == R.INVALID_INPUT and "no_such_frame" in result.message


def test_target_frame_follows_the_camera_transform_on_tf_static_over_the_file(ros, scene, heuristic_model_path):
    """Without tf2_ros the planner listens to /tf_static itself: whoever publishes the camera pose there (the sim's
    execute node, camera_tf_node) decides the answer; the extrinsics file is only the fallback."""
    from test_planner_node import Client, goal_for

    from gqcnn_core.frames import CameraExtrinsics, pose_matrix
    from gqcnn_planner.camera_tf_node import static_tf_message
    from gqcnn_planner.frames import tf2_ros

    if tf2_ros is not None:
        pytest.skip("with tf2_ros the planner resolves frames through tf2")
    from_file = load_extrinsics(DEFAULT_EXTRINSICS_FILE)
    published = pose_matrix([0.55, -0.10, 0.80], [1.0, 0.0, 0.0, 0.0])  # elsewhere than the file says
    assert not np.allclose(published, from_file.base_camera)
    publisher_node = ros.add(Node("simulated_camera_tf", context=ros.context))
    publisher = publisher_node.create_publisher(TFMessage, "/tf_static", STATIC_TF_QOS)
    publisher.publish(static_tf_message(CameraExtrinsics(published, True, from_file.base_frame,
                                                         from_file.camera_frame)))
    client = Client(ros, heuristic_model_path)  # joins later: the latched message still reaches it
    deadline = time.monotonic() + 10.0
    while client.server.frames.source != "/tf_static" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert client.server.frames.source == "/tf_static"

    _, result = client.send(goal_for(scene, target_frame=from_file.base_frame))
    assert result.status == R.SUCCESS, result.message
    np.testing.assert_allclose(msg_to_pose(result.grasp_pose.pose), published @ msg_to_pose(result.grasp.pose.pose),
                               atol=1e-6)
    assert not np.allclose(msg_to_pose(result.grasp_pose.pose),
                           from_file.base_camera @ msg_to_pose(result.grasp.pose.pose), atol=1e-3)
