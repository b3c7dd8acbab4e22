import numpy as np
import pytest
import yaml

from gqcnn_core.camera import CameraIntrinsics


def test_project_deproject_round_trip():
    camera = CameraIntrinsics(600.0, 610.0, 320.2, 241.7, 640, 480)
    rng = np.random.default_rng(0)
    pixels = rng.uniform([0, 0], [640, 480], size=(100, 2))
    depths = rng.uniform(0.3, 1.5, size=100)
    points = camera.deproject_pixels(pixels, depths)
    np.testing.assert_allclose(points[:, 2], depths)
    np.testing.assert_allclose(camera.project(points), pixels, atol=1e-9)


def test_principal_point_deprojects_onto_optical_axis():
    camera = CameraIntrinsics.primesense()
    np.testing.assert_allclose(camera.deproject_pixels([319.5, 239.5], 0.7), [0.0, 0.0, 0.7])


def test_deproject_image_keeps_missing_as_nan():
    camera = CameraIntrinsics(100.0, 100.0, 1.5, 1.0, 4, 3)
    depth = np.full((3, 4), 0.5, dtype=np.float32)
    depth[1, 2] = np.nan
    cloud = camera.deproject_image(depth)
    assert cloud.shape == (3, 4, 3)
    assert np.isnan(cloud[1, 2]).all()
    np.testing.assert_allclose(cloud[0, 0], [-1.5 * 0.005, -1.0 * 0.005, 0.5])


def test_yaml_round_trip(tmp_path):
    camera = CameraIntrinsics(615.3, 615.9, 322.1, 238.4, 640, 480, "cam_optical")
    path = tmp_path / "cam.yaml"
    path.write_text(yaml.safe_dump(camera.to_yaml_dict()))
    assert CameraIntrinsics.from_yaml(path) == camera


def test_yaml_without_camera_matrix_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("image_width: 640\nimage_height: 480\n")
    with pytest.raises(ValueError, match="camera_matrix"):
        CameraIntrinsics.from_yaml(path)


@pytest.mark.parametrize("k", [np.zeros(9), [0, 0, 320, 0, 525, 240, 0, 0, 1], [525, 0, np.nan, 0, 525, 240, 0, 0, 1]])
def test_invalid_intrinsics_are_rejected(k):
    with pytest.raises(ValueError):
        CameraIntrinsics.from_matrix(k, 640, 480)


def test_size_mismatch_is_reported():
    camera = CameraIntrinsics.primesense()
    with pytest.raises(ValueError, match="640x480"):
        camera.check_image(np.zeros((10, 10)))
