import numpy as np
import pytest

from gqcnn_core.camera import CameraIntrinsics
from gqcnn_core.grasp import Grasp2D
from gqcnn_planner.ros_conversions import (
    camera_info_to_intrinsics,
    depth_to_image,
    grasp_to_msg,
    image_to_depth,
    image_to_mask,
    intrinsics_to_camera_info,
    mask_to_image,
    msg_to_grasp,
)


@pytest.mark.parametrize("encoding", ["32FC1", "16UC1"])
def test_depth_image_round_trip(encoding):
    depth = np.full((4, 6), 0.725, dtype=np.float32)
    depth[1, 2] = np.nan
    msg = depth_to_image(depth, encoding)
    assert (msg.height, msg.width, msg.encoding) == (4, 6, encoding)
    out = image_to_depth(msg)
    assert np.isnan(out[1, 2])
    np.testing.assert_allclose(np.nan_to_num(out), np.nan_to_num(depth), atol=1e-3)


def test_mask_round_trip_and_bad_encoding():
    mask = np.zeros((3, 5), dtype=bool)
    mask[1, 1:4] = True
    msg = mask_to_image(mask)
    np.testing.assert_array_equal(image_to_mask(msg), mask)
    msg.encoding = "rgb8"
    with pytest.raises(ValueError, match="mask encoding"):
        image_to_mask(msg)


def test_camera_info_round_trip():
    camera = CameraIntrinsics(600.0, 601.0, 318.0, 242.0, 640, 480, "cam_optical")
    info = intrinsics_to_camera_info(camera)
    assert info.header.frame_id == "cam_optical"
    assert camera_info_to_intrinsics(info) == camera


def test_grasp_message_round_trip():
    camera = CameraIntrinsics.primesense("cam_optical")
    grasp = Grasp2D((331.0, 210.5), -0.4, 0.66, 0.031)
    msg = grasp_to_msg(grasp, 0.87, camera)
    assert msg.pose.header.frame_id == "cam_optical"
    assert msg.segment_id == -1 and grasp_to_msg(grasp, 0.87, camera, segment_id=3).segment_id == 3
    assert msg.q_value == pytest.approx(0.87)
    assert msg.width_px == pytest.approx(0.031 * 525 / 0.66, rel=1e-5)
    np.testing.assert_allclose(
        [msg.pose.pose.position.x, msg.pose.pose.position.y, msg.pose.pose.position.z], grasp.position(camera)
    )
    back = msg_to_grasp(msg)
    np.testing.assert_allclose(back.center, grasp.center, atol=1e-4)
    assert back.angle == pytest.approx(grasp.angle, abs=1e-6)
