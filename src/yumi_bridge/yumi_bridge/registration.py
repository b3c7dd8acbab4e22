"""Chessboard registration of the camera to the YuMi base frame (as in Dex-Net 2.0), writing camera_extrinsics.yaml.

Board frame: origin at the first inner corner OpenCV reports, x along a row of `pattern[0]` corners, y across the
`pattern[1]` rows, z into the board (away from the camera). OpenCV need not start at the same end in every view,
so `find_board` reorders the corners so that the square diagonally inside corner 0 is black: with one odd and one even
corner count (e.g. 9x6) that corner is unique and the board's base pose means the same thing in every image.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import cv2
import numpy as np
import yaml
from scipy.spatial.transform import Rotation

from gqcnn_core.camera import CameraIntrinsics
from gqcnn_core.config_file import read_yaml_mapping
from gqcnn_core.frames import pose_matrix, pose_parts

Pattern = tuple[int, int]  # inner corners (columns, rows), like cv2.findChessboardCorners' patternSize
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2  # the CLI convention (README "CLI exit codes")


class NoBoardError(ValueError):
    """No image shows the chessboard: the registration failed (the inputs themselves were readable)."""


def board_points(pattern: Pattern, square: float) -> np.ndarray:
    """(N, 3) inner-corner coordinates in the board frame (z = 0), row by row like findChessboardCorners."""
    columns, rows = pattern
    grid_y, grid_x = np.mgrid[0:rows, 0:columns]
    return np.stack([grid_x.ravel(), grid_y.ravel(), np.zeros(columns * rows)], axis=1) * float(square)


def find_board(image: np.ndarray, pattern: Pattern) -> np.ndarray | None:
    """Subpixel inner corners (N, 2) in pixels from a uint8 grey or RGB image; None if the board is not seen."""
    columns, rows = pattern
    if (columns + rows) % 2 == 0:  # such a board looks the same turned by 180 deg: the registration could flip
        raise ValueError(f"pattern {columns}x{rows} is symmetric; use one odd and one even corner count, e.g. 9x6")
    if image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise ValueError(f"expected a uint8 grey or RGB image, got {image.dtype} with shape {image.shape}")
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    flags = cv2.CALIB_CB_ADAPTIVE_THRESH | cv2.CALIB_CB_NORMALIZE_IMAGE
    found, corners = cv2.findChessboardCorners(grey, (columns, rows), flags=flags)
    if not found:
        return None
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_MAX_ITER, 50, 1e-3)
    corners = cv2.cornerSubPix(grey, corners, (5, 5), (-1, -1), criteria).reshape(-1, 2)

    def brightness(first_corner: int) -> float:
        """Grey level at the centre of the square spanned by this corner and its right and lower neighbours."""
        u, v = corners[[first_corner, first_corner + 1, first_corner + columns, first_corner + columns + 1]].mean(0)
        return float(grey[round(v), round(u)])

    # The square inside corner 0 must be darker than its neighbour; otherwise OpenCV started at the far end.
    neighbour = 1 if columns > 2 else columns
    return corners[::-1].copy() if brightness(0) > brightness(neighbour) else corners


@dataclass(frozen=True)
class BoardView:
    camera_board: np.ndarray  # 4x4 pose of the board in the camera optical frame
    rms_px: float  # reprojection RMS error of the corners


def camera_from_board(
    corners_px: np.ndarray, pattern: Pattern, square: float, camera_matrix: np.ndarray, dist_coeffs: np.ndarray
) -> BoardView:
    """Pose of the board in the camera optical frame from its detected corners (cv2.solvePnP)."""
    object_points = board_points(pattern, square)
    image_points = np.asarray(corners_px, dtype=np.float64).reshape(-1, 2)
    if len(image_points) != len(object_points):
        raise ValueError(f"got {len(image_points)} corners, pattern {pattern[0]}x{pattern[1]} has {len(object_points)}")
    camera_matrix = np.asarray(camera_matrix, dtype=np.float64).reshape(3, 3)
    dist_coeffs = np.asarray(dist_coeffs, dtype=np.float64).ravel()
    ok, rvec, tvec = cv2.solvePnP(object_points, image_points, camera_matrix, dist_coeffs)  # ITERATIVE: LM fit
    if not ok:
        raise ValueError("solvePnP found no board pose for the detected corners")
    projected, _ = cv2.projectPoints(object_points, rvec, tvec, camera_matrix, dist_coeffs)
    rms = float(np.sqrt(np.mean(np.sum((projected.reshape(-1, 2) - image_points) ** 2, axis=1))))
    camera_board = np.eye(4)
    camera_board[:3, :3] = cv2.Rodrigues(rvec)[0]
    camera_board[:3, 3] = tvec.ravel()
    return BoardView(camera_board, rms)


@dataclass(frozen=True)
class Registration:
    base_camera: np.ndarray  # 4x4 pose of the camera optical frame in the robot base frame
    rms_px: float  # reprojection RMS over every image that showed the board
    per_image_rms_px: tuple[float | None, ...]  # None where the board was not found
    position_spread_m: float  # largest distance of a per-image camera position from the mean: board-pose consistency

    def summary(self) -> str:
        per_image = ", ".join("-" if rms is None else f"{rms:.3f}" for rms in self.per_image_rms_px)
        return (
            f"chessboard registration: reprojection RMS {self.rms_px:.3f} px (per image: {per_image}),"
            f" camera position spread {self.position_spread_m * 1000:.1f} mm"
        )


def register_camera(
    images: Sequence[np.ndarray],
    camera_matrix: np.ndarray,
    dist_coeffs: np.ndarray,
    pattern: Pattern,
    square: float,
    base_board: np.ndarray,
) -> Registration:
    """Camera pose in the base frame from chessboard images; `base_board` is one 4x4 board pose or one per image."""
    boards = np.broadcast_to(np.asarray(base_board, dtype=float), (len(images), 4, 4))
    base_cameras, per_image = [], []
    for image, board in zip(images, boards, strict=True):
        corners = find_board(image, pattern)
        view = None if corners is None else camera_from_board(corners, pattern, square, camera_matrix, dist_coeffs)
        per_image.append(None if view is None else view.rms_px)
        if view is not None:
            base_cameras.append(board @ np.linalg.inv(view.camera_board))
    if not base_cameras:
        raise NoBoardError(f"no {pattern[0]}x{pattern[1]} chessboard found in any of the {len(images)} images")
    positions = np.array([pose[:3, 3] for pose in base_cameras])
    base_camera = np.eye(4)
    base_camera[:3, :3] = Rotation.from_matrix([pose[:3, :3] for pose in base_cameras]).mean().as_matrix()
    base_camera[:3, 3] = positions.mean(axis=0)
    rms = float(np.sqrt(np.mean([value**2 for value in per_image if value is not None])))
    spread = float(np.linalg.norm(positions - base_camera[:3, 3], axis=1).max())
    return Registration(base_camera, rms, tuple(per_image), spread)


def write_extrinsics_yaml(
    path: str | Path, base_camera: np.ndarray, base_frame: str, camera_frame: str, note: str = ""
) -> None:
    """Write config/camera_extrinsics.yaml's format (calibrated: true) for frames.load_extrinsics."""
    for name in (base_frame, camera_frame):  # written unquoted, so only tf frame-name characters are safe
        if not re.fullmatch(r"[A-Za-z_/][\w/.-]*", name):
            raise ValueError(f"frame name {name!r} is not a plain tf frame name")
    translation, quaternion = pose_parts(np.asarray(base_camera, dtype=float))
    header = ["# Pose of the depth camera's optical frame in the ABB YuMi base frame (read by yumi_bridge.frames)."]
    header += ["# Generated by chessboard registration (python -m yumi_bridge.registration)."]
    header += [f"# {line}" for line in note.splitlines()]
    body = [
        "calibrated: true",
        f"base_frame: {base_frame}",
        f"camera_frame: {camera_frame}",
        f"translation: [{', '.join(f'{value:.6f}' for value in translation)}]    # metres, camera origin in base frame",
        f"quaternion_xyzw: [{', '.join(f'{value:.8f}' for value in quaternion)}]    # rotation base <- optical",
    ]
    path = Path(path)
    partial = path.with_name(path.name + ".partial")  # never leave a half-written extrinsics file behind
    partial.write_text("\n".join(header + body) + "\n")
    partial.replace(path)


class _OneLineErrorParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise ValueError(message)  # main() prints it as one line (exit 2) instead of the usage text


def _parse_pattern(text: str) -> Pattern:
    try:
        columns, rows = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--pattern must look like 9x6 (inner corners per row x rows), got {text!r}") from None
    if columns < 2 or rows < 2:
        raise ValueError(f"--pattern needs at least 2x2 inner corners, got {text!r}")
    return columns, rows


def _distortion_from_yaml(path: str) -> np.ndarray:
    """Distortion coefficients of a camera_info YAML (CameraIntrinsics keeps none); zero if absent."""
    section = read_yaml_mapping(path, "camera_info").get("distortion_coefficients") or {}
    coefficients = np.asarray((section.get("data") if isinstance(section, dict) else None) or [0.0] * 5, dtype=float)
    if coefficients.size not in (4, 5, 8, 12, 14):
        raise ValueError(f"{path}: distortion_coefficients needs 4, 5, 8, 12 or 14 numbers, got {coefficients.size}")
    return coefficients.ravel()


def _read_image(path: str, intrinsics: CameraIntrinsics) -> np.ndarray:
    image = cv2.imread(path, cv2.IMREAD_GRAYSCALE | cv2.IMREAD_ANYDEPTH)
    if image is None:
        raise ValueError(f"cannot read image {path}")
    if image.dtype != np.uint8:  # e.g. 10-bit infrared in a 16-bit PNG: stretch it rather than drop the low bits
        image = cv2.normalize(image, None, 0, 255, cv2.NORM_MINMAX, dtype=cv2.CV_8U)
    intrinsics.check_image(image, name=path)
    return image


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: register the camera from chessboard images and write the extrinsics YAML.

    Exit 0 when written, 1 when no image shows the board or the file cannot be written, 2 on bad arguments or
    unreadable inputs; the reason as one line on stderr.
    """
    parser = _OneLineErrorParser(prog="yumi-register-camera", description="Register the camera with a chessboard.")
    parser.add_argument("--images", nargs="+", required=True, help="chessboard images (grey or colour)")
    parser.add_argument("--intrinsics", required=True, help="camera_info YAML (camera_calibration_parsers format)")
    parser.add_argument("--pattern", default="9x6", help="inner corners per row x rows (default 9x6)")
    parser.add_argument("--square", type=float, required=True, help="square side in metres")
    pose_help = "x y z qx qy qz qw of the board in the base frame: origin at the inner corner of the black corner"
    pose_help += " square whose rows run along x, z into the board"
    parser.add_argument("--board-pose", type=float, nargs=7, required=True, metavar="N", help=pose_help)
    parser.add_argument("--out", required=True, help="extrinsics YAML to write, e.g. config/camera_extrinsics.yaml")
    parser.add_argument("--base-frame", default="yumi_base_link")
    parser.add_argument("--camera-frame", help="default: the intrinsics' frame_id or camera_depth_optical_frame")
    try:
        args = parser.parse_args(argv)
        pattern = _parse_pattern(args.pattern)
        if not args.square > 0:
            raise ValueError(f"--square must be a positive length in metres, got {args.square}")
        intrinsics = CameraIntrinsics.from_yaml(args.intrinsics)
        dist_coeffs = _distortion_from_yaml(args.intrinsics)
        board = pose_matrix(args.board_pose[:3], args.board_pose[3:])
        images = [_read_image(path, intrinsics) for path in args.images]
    except (OSError, ValueError, yaml.YAMLError, cv2.error) as err:
        return _fail(err, EXIT_BAD_INPUT)
    try:
        result = register_camera(images, intrinsics.k, dist_coeffs, pattern, args.square, board)
        camera_frame = args.camera_frame or intrinsics.frame_id
        write_extrinsics_yaml(args.out, result.base_camera, args.base_frame, camera_frame, note=result.summary())
    except NoBoardError as err:
        return _fail(err, EXIT_FAILED)
    except ValueError as err:  # a frame name that is not a tf frame name
        return _fail(err, EXIT_BAD_INPUT)
    except (OSError, cv2.error) as err:
        return _fail(err, EXIT_FAILED)
    skipped = [path for path, rms in zip(args.images, result.per_image_rms_px, strict=True) if rms is None]
    print(f"wrote {args.out}: {result.summary()}" + (f"; no board in {', '.join(skipped)}" if skipped else ""))
    return EXIT_OK


def _fail(err: Exception, code: int) -> int:
    print(f"yumi-register-camera: error: {' '.join(str(err).split())}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
