import numpy as np
import pytest
from scenes import box_on_table

from gqcnn_core.camera import CameraIntrinsics
from gqcnn_core.grasp import Grasp2D, jaw_endpoints_px, normalize_angle

CAMERA = CameraIntrinsics.primesense()


def test_grasp_across_a_box_has_the_box_width():
    """Find the box edges along an image row and check the deprojected contact distance."""
    width, table, height = 0.04, 0.7, 0.05
    depth = box_on_table(CAMERA, size_xy=(width, 0.08), height=height, table_depth=table)
    row = depth[240]
    on_box = np.flatnonzero(row < table - height / 2)
    p1, p2 = np.array([on_box[0], 240.0]), np.array([on_box[-1], 240.0])
    grasp = Grasp2D.from_endpoints(p1, p2, table - height, CAMERA)
    pixel = CAMERA.pixel_size_at(table - height)
    assert grasp.width == pytest.approx(width, abs=1.5 * pixel)
    assert grasp.angle == pytest.approx(0.0)
    np.testing.assert_allclose(grasp.endpoints_px(CAMERA), [p1, p2], atol=1e-9)


def test_pose_round_trip():
    grasp = Grasp2D((350.2, 200.7), 1.1, 0.63, 0.035)
    position, quaternion = grasp.pose(CAMERA)
    assert np.linalg.norm(quaternion) == pytest.approx(1.0)
    back = Grasp2D.from_pose(position, quaternion, grasp.width, CAMERA)
    np.testing.assert_allclose(back.center, grasp.center, atol=1e-9)
    assert back.angle == pytest.approx(grasp.angle)
    assert back.depth == pytest.approx(grasp.depth)


def test_pose_axes_follow_the_grasp_axis():
    grasp = Grasp2D((320, 240), np.pi / 2, 0.5, 0.02)
    _, (x, y, z, w) = grasp.pose(CAMERA)
    # 90 deg about the camera z axis: the gripper's x axis (jaw closing) points along the camera y axis
    gripper_x = np.array([1 - 2 * (y * y + z * z), 2 * (x * y + z * w), 2 * (x * z - y * w)])
    np.testing.assert_allclose(gripper_x, [0, 1, 0], atol=1e-12)


def test_tilted_pose_is_not_a_planar_grasp():
    quaternion = np.array([np.sin(0.2), 0, 0, np.cos(0.2)])  # 23 deg about x
    with pytest.raises(ValueError, match="planar"):
        Grasp2D.from_pose(np.array([0, 0, 0.6]), quaternion, 0.03, CAMERA)


def test_angles_wrap_to_half_turn():
    assert normalize_angle(np.pi) == pytest.approx(0.0)
    assert normalize_angle(-np.pi / 2) == pytest.approx(np.pi / 2)
    assert Grasp2D((0, 0), 3 * np.pi / 4, 0.5, 0.01).angle == pytest.approx(-np.pi / 4)


def test_width_px_and_vectorised_endpoints_agree():
    grasp = Grasp2D((300, 250), 0.3, 0.6, 0.03)
    assert grasp.width_px(CAMERA) == pytest.approx(0.03 * 525 / 0.6)
    ends = jaw_endpoints_px(np.array([grasp.center]), np.array([grasp.angle]), np.array([grasp.width_px(CAMERA)]))
    np.testing.assert_allclose(ends[0], grasp.endpoints_px(CAMERA))


def test_invalid_grasps_are_rejected():
    with pytest.raises(ValueError):
        Grasp2D((0, 0), 0.0, 0.0, 0.01)
    with pytest.raises(ValueError):
        Grasp2D((0, 0), 0.0, 0.5, -0.01)
