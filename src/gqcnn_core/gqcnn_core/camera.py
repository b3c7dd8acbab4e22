"""Pinhole camera intrinsics: projection, deprojection, CameraInfo and calibration YAML."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gqcnn_core.config_file import read_yaml_mapping

DEFAULT_FRAME = "camera_depth_optical_frame"


@dataclass(frozen=True)
class CameraIntrinsics:
    """Pinhole intrinsics of a depth image in the REP-103 optical frame (x right, y down, z forward).

    Pixel coordinates are (u, v) = (column, row), with (0, 0) at the centre of the top-left pixel.
    """

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    frame_id: str = DEFAULT_FRAME

    def __post_init__(self) -> None:
        values = (self.fx, self.fy, self.cx, self.cy)
        if not all(np.isfinite(values)):
            raise ValueError(f"camera intrinsics must be finite, got fx,fy,cx,cy={values}")
        if self.fx <= 0 or self.fy <= 0:
            raise ValueError(f"focal lengths must be positive, got fx={self.fx}, fy={self.fy}")
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"image size must be positive, got {self.width}x{self.height}")

    @classmethod
    def primesense(cls, frame_id: str = DEFAULT_FRAME) -> CameraIntrinsics:
        """The Primesense Carmine-like camera of the Dex-Net 2.0 paper: 640x480, f = 525 px."""
        return cls(525.0, 525.0, 319.5, 239.5, 640, 480, frame_id)

    @classmethod
    def from_matrix(cls, k: Any, width: int, height: int, frame_id: str = DEFAULT_FRAME) -> CameraIntrinsics:
        k = np.asarray(k, dtype=float).reshape(3, 3)
        if not np.allclose(k[2], [0.0, 0.0, 1.0], atol=1e-9):
            raise ValueError(f"camera matrix K must have the last row [0, 0, 1], got {k[2].tolist()}")
        return cls(float(k[0, 0]), float(k[1, 1]), float(k[0, 2]), float(k[1, 2]), int(width), int(height), frame_id)

    @classmethod
    def from_camera_info(cls, info: Any) -> CameraIntrinsics:
        """From a sensor_msgs/CameraInfo (or anything with k, width, height, header.frame_id)."""
        frame_id = getattr(getattr(info, "header", None), "frame_id", "") or DEFAULT_FRAME
        return cls.from_matrix(info.k, info.width, info.height, frame_id)

    @classmethod
    def from_yaml(cls, path: str | Path) -> CameraIntrinsics:
        """From a ROS camera calibration YAML (camera_calibration_parsers format)."""
        data = read_yaml_mapping(path, "camera calibration")  # bad YAML (a tag, a typo): ValueError naming the file
        try:
            k = data["camera_matrix"]["data"]
            return cls.from_matrix(
                k, data["image_width"], data["image_height"], data.get("frame_id", DEFAULT_FRAME)
            )
        except (KeyError, TypeError) as err:
            raise ValueError(f"{path}: not a camera calibration YAML (missing {err})") from None

    def to_yaml_dict(self, camera_name: str = "depth_camera") -> dict:
        """The camera_calibration_parsers YAML layout (no distortion)."""
        return {
            "image_width": self.width,
            "image_height": self.height,
            "camera_name": camera_name,
            "frame_id": self.frame_id,
            "camera_matrix": {"rows": 3, "cols": 3, "data": self.k.ravel().tolist()},
            "distortion_model": "plumb_bob",
            "distortion_coefficients": {"rows": 1, "cols": 5, "data": [0.0] * 5},
            "rectification_matrix": {"rows": 3, "cols": 3, "data": np.eye(3).ravel().tolist()},
            "projection_matrix": {"rows": 3, "cols": 4, "data": self.p.ravel().tolist()},
        }

    @property
    def k(self) -> np.ndarray:
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @property
    def p(self) -> np.ndarray:
        return np.hstack([self.k, np.zeros((3, 1))])

    @property
    def shape(self) -> tuple[int, int]:
        """Image shape as (rows, columns)."""
        return self.height, self.width

    def project(self, points: np.ndarray) -> np.ndarray:
        """Points (..., 3) in metres in the camera frame -> pixels (..., 2) as (u, v)."""
        points = np.asarray(points, dtype=float)
        z = points[..., 2]
        return np.stack([self.fx * points[..., 0] / z + self.cx, self.fy * points[..., 1] / z + self.cy], axis=-1)

    def deproject_pixels(self, pixels: np.ndarray, depth: np.ndarray | float) -> np.ndarray:
        """Pixels (..., 2) as (u, v) at depths (...) in metres -> points (..., 3) in the camera frame."""
        pixels = np.asarray(pixels, dtype=float)
        depth = np.asarray(depth, dtype=float)
        x = (pixels[..., 0] - self.cx) / self.fx * depth
        y = (pixels[..., 1] - self.cy) / self.fy * depth
        return np.stack(np.broadcast_arrays(x, y, depth), axis=-1)

    def deproject_image(self, depth: np.ndarray) -> np.ndarray:
        """Depth image (H, W) in metres -> organised point cloud (H, W, 3); NaN where depth is missing."""
        self.check_image(depth)
        v, u = np.indices(depth.shape, dtype=float)
        return self.deproject_pixels(np.stack([u, v], axis=-1), depth)

    def pixel_size_at(self, depth: float | np.ndarray) -> float | np.ndarray:
        """Metres per pixel at a given depth (mean of both axes)."""
        return np.asarray(depth) * 2.0 / (self.fx + self.fy)

    def check_image(self, image: np.ndarray, name: str = "depth image") -> None:
        """Raise ValueError unless `image` is (height, width) for this camera."""
        if image.shape[:2] != self.shape:
            raise ValueError(
                f"{name} is {image.shape[1]}x{image.shape[0]} but camera_info says {self.width}x{self.height}"
            )
