"""Chessboard registration on rendered boards: corner order, recovered camera pose, extrinsics YAML and the CLI."""

import subprocess
import sys

import cv2
import numpy as np
import pytest
import yaml
from scipy.spatial.transform import Rotation

from gqcnn_core.camera import CameraIntrinsics
from gqcnn_core.frames import load_extrinsics, pose_matrix, pose_parts
from gqcnn_core.paths import DEFAULT_EXTRINSICS_FILE
from yumi_bridge.registration import (
    board_points,
    camera_from_board,
    find_board,
    main,
    register_camera,
    write_extrinsics_yaml,
)

CAMERA = CameraIntrinsics.primesense()
PATTERN = (9, 6)
SQUARE = 0.03
NO_DISTORTION = np.zeros(5)
# The placeholder camera 0.70 m above the table looking down, tilted 12 deg about its image x axis.
BASE_CAMERA = pose_matrix([0.40, 0.0, 0.70], [0.70710678, -0.70710678, 0.0, 0.0]) @ pose_matrix(
    [0.0, 0.0, 0.0], Rotation.from_euler("x", 12, degrees=True).as_quat()
)


def board_on_table(yaw_deg: float, shift_xy: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """Base pose of a board lying on the table (its z into the table), centred near where the camera looks."""
    axis, origin = BASE_CAMERA[:3, 2], BASE_CAMERA[:3, 3]
    look_at = origin - origin[2] / axis[2] * axis
    pose = np.eye(4)
    pose[:3, :3] = Rotation.from_euler("z", yaw_deg, degrees=True).as_matrix() @ np.diag([1.0, -1.0, -1.0])
    centre = np.array([PATTERN[0] - 1, PATTERN[1] - 1, 0.0]) * SQUARE / 2
    pose[:3, 3] = look_at + np.array([*shift_xy, 0.0]) - pose[:3, :3] @ centre
    return pose


def render(base_board: np.ndarray, supersample: int = 4) -> np.ndarray:
    """Grey image of the board (black corner squares, white margin), each pixel's ray cut with the board plane."""
    board_camera = np.linalg.inv(base_board) @ BASE_CAMERA
    u = (np.arange(CAMERA.width * supersample) + 0.5) / supersample - 0.5
    v = (np.arange(CAMERA.height * supersample) + 0.5) / supersample - 0.5
    uu, vv = np.meshgrid(u, v)
    rays = np.stack([(uu - CAMERA.cx) / CAMERA.fx, (vv - CAMERA.cy) / CAMERA.fy, np.ones_like(uu)], axis=-1)
    rays = rays @ board_camera[:3, :3].T
    origin = board_camera[:3, 3]
    distance = -origin[2] / rays[..., 2]
    hits = origin[:2] + distance[..., None] * rays[..., :2]
    column, row = np.floor(hits[..., 0] / SQUARE), np.floor(hits[..., 1] / SQUARE)
    on_board = (distance > 0) & (column >= -1) & (column < PATTERN[0]) & (row >= -1) & (row < PATTERN[1])
    black = on_board & ((column + row) % 2 == 0)
    fine = np.where(black, 20.0, 235.0)
    coarse = fine.reshape(CAMERA.height, supersample, CAMERA.width, supersample).mean(axis=(1, 3))
    return np.round(coarse).astype(np.uint8)


def rotation_error_deg(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.degrees(Rotation.from_matrix(a[:3, :3].T @ b[:3, :3]).magnitude()))


BOARDS = [board_on_table(0.0), board_on_table(25.0, (0.03, -0.02)), board_on_table(175.0, (-0.02, 0.03))]


@pytest.fixture(scope="module")
def images() -> list[np.ndarray]:
    return [render(board) for board in BOARDS]


def test_board_points_are_row_major_on_the_board_plane():
    points = board_points((3, 2), 0.5)
    np.testing.assert_allclose(points, [[0, 0, 0], [0.5, 0, 0], [1, 0, 0], [0, 0.5, 0], [0.5, 0.5, 0], [1, 0.5, 0]])


@pytest.mark.parametrize("opencv_starts_at_far_end", [False, True])
@pytest.mark.parametrize("yaw_deg", [5.0, 95.0, 185.0, 275.0])
def test_corner_order_follows_the_board_not_the_image(yaw_deg, opencv_starts_at_far_end, monkeypatch):
    if opencv_starts_at_far_end:  # OpenCV 5.0 starts at the black corner here; the reordering must not rely on it
        detect = cv2.findChessboardCorners

        def detect_from_far_end(*args, **kwargs):
            found, corners = detect(*args, **kwargs)
            return found, corners[::-1].copy()

        monkeypatch.setattr(cv2, "findChessboardCorners", detect_from_far_end)
    board = board_on_table(yaw_deg)
    corners = find_board(render(board), PATTERN)
    assert corners is not None
    expected = CAMERA.project(
        (np.linalg.inv(BASE_CAMERA) @ board @ np.c_[board_points(PATTERN, SQUARE), np.ones(54)].T).T[:, :3]
    )
    assert np.abs(corners - expected).max() < 0.3


def test_single_view_pose_and_rgb_input(images):
    rgb = np.repeat(images[0][..., None], 3, axis=2)
    view = camera_from_board(find_board(rgb, PATTERN), PATTERN, SQUARE, CAMERA.k, NO_DISTORTION)
    truth = np.linalg.inv(BASE_CAMERA) @ BOARDS[0]
    assert np.linalg.norm(view.camera_board[:3, 3] - truth[:3, 3]) < 0.003
    assert rotation_error_deg(view.camera_board, truth) < 0.5
    assert view.rms_px < 0.3


def test_register_camera_recovers_the_pose(images):
    result = register_camera(images, CAMERA.k, NO_DISTORTION, PATTERN, SQUARE, np.stack(BOARDS))
    assert np.linalg.norm(result.base_camera[:3, 3] - BASE_CAMERA[:3, 3]) < 0.003
    assert rotation_error_deg(result.base_camera, BASE_CAMERA) < 0.5
    assert len(result.per_image_rms_px) == 3 and all(rms < 0.3 for rms in result.per_image_rms_px)
    assert result.rms_px < 0.3 and result.position_spread_m < 0.003


def test_images_without_board_are_skipped_or_refused(images):
    blank = np.full((CAMERA.height, CAMERA.width), 235, np.uint8)
    result = register_camera([blank, images[0]], CAMERA.k, NO_DISTORTION, PATTERN, SQUARE, BOARDS[0])
    assert result.per_image_rms_px[0] is None and result.per_image_rms_px[1] < 0.3
    with pytest.raises(ValueError, match=r"^no 9x6 chessboard found in any of the 2 images$"):
        register_camera([blank, blank], CAMERA.k, NO_DISTORTION, PATTERN, SQUARE, BOARDS[0])
    with pytest.raises(ValueError, match="symmetric"):
        find_board(images[0], (8, 6))


def test_extrinsics_yaml_round_trips(images, tmp_path):
    result = register_camera(images, CAMERA.k, NO_DISTORTION, PATTERN, SQUARE, np.stack(BOARDS))
    path = tmp_path / "camera_extrinsics.yaml"
    write_extrinsics_yaml(path, result.base_camera, "yumi_base_link", "camera_depth_optical_frame", result.summary())
    loaded = load_extrinsics(path)
    assert loaded.calibrated is True
    assert (loaded.base_frame, loaded.camera_frame) == ("yumi_base_link", "camera_depth_optical_frame")
    np.testing.assert_allclose(loaded.base_camera, result.base_camera, atol=1e-6)
    text = path.read_text()
    assert "chessboard registration" in text and "RMS" in text
    with pytest.raises(ValueError, match="frame name"):
        write_extrinsics_yaml(path, result.base_camera, "base: link", "camera", "")
    assert yaml.safe_load(text).keys() == yaml.safe_load(DEFAULT_EXTRINSICS_FILE.read_text()).keys()


def cli_inputs(tmp_path, images: list[np.ndarray]) -> list[str]:
    paths = []
    for index, image in enumerate(images):
        paths.append(str(tmp_path / f"view{index}.png"))
        cv2.imwrite(paths[-1], image)
    intrinsics = tmp_path / "camera_info.yaml"
    intrinsics.write_text(yaml.safe_dump(CAMERA.to_yaml_dict()))
    position, quaternion = pose_parts(BOARDS[0])
    pose = [str(value) for value in [*position, *quaternion]]
    return ["--images", *paths, "--intrinsics", str(intrinsics), "--pattern", "9x6", "--square", str(SQUARE),
            "--board-pose", *pose]  # fmt: skip


def test_cli_writes_extrinsics(images, tmp_path, capsys):
    blank = np.full((CAMERA.height, CAMERA.width), 235, np.uint8)
    out = tmp_path / "out.yaml"
    infrared = images[0].astype(np.uint16) * 4  # 10-bit values in a 16-bit PNG, like a Primesense IR image
    assert main([*cli_inputs(tmp_path, [infrared, blank]), "--out", str(out)]) == 0
    assert "no board in" in capsys.readouterr().out
    extrinsics = load_extrinsics(out)
    assert extrinsics.calibrated and extrinsics.camera_frame == "camera_depth_optical_frame"
    assert np.linalg.norm(extrinsics.base_camera[:3, 3] - BASE_CAMERA[:3, 3]) < 0.003
    assert rotation_error_deg(extrinsics.base_camera, BASE_CAMERA) < 0.5


@pytest.mark.parametrize(
    ("change", "message", "code"),
    [
        (lambda args: args, "no 9x6 chessboard found in any of the 2 images", 1),  # the registration failed
        (lambda args: [arg.replace("9x6", "9by6") for arg in args], "--pattern must look like 9x6", 2),  # bad input
        (lambda args: [arg.replace("view1.png", "missing.png") for arg in args], "cannot read image", 2),
        (lambda args: args[:-1], "--board-pose", 2),
    ],
)
def test_cli_failures_are_one_line_and_exit_1_bad_input_exit_2(tmp_path, capsys, change, message, code):
    blank = np.full((CAMERA.height, CAMERA.width), 235, np.uint8)
    out = tmp_path / "out.yaml"
    assert main([*change(cli_inputs(tmp_path, [blank, blank])), "--out", str(out)]) == code
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1 and not out.exists()


def test_cli_runs_as_module_without_traceback(tmp_path):
    arguments = ["--intrinsics", str(tmp_path / "none.yaml"), "--images", "a.png", "--square", "0.025"]
    arguments += ["--board-pose", *["0"] * 6, "1", "--out", str(tmp_path / "out.yaml")]
    command = [sys.executable, "-m", "yumi_bridge.registration", *arguments]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert finished.returncode == 2 and "Traceback" not in finished.stderr and finished.stderr.count("\n") == 1
