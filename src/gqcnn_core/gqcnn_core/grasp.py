"""Planar parallel-jaw grasps in a depth image (Dex-Net 2.0's Grasp2D) and their 3D gripper poses.

A grasp is a centre pixel, an in-plane axis angle, a gripper depth and a jaw opening. Its 3D pose in
the camera optical frame approaches along the camera +z axis with the jaws closing along
x = (cos angle, sin angle, 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gqcnn_core.camera import CameraIntrinsics


def normalize_angle(angle: np.ndarray | float) -> np.ndarray | float:
    """Wrap to (-pi/2, pi/2]: a parallel-jaw grasp is the same grasp after a half turn."""
    wrapped = np.pi / 2 - np.mod(np.pi / 2 - np.asarray(angle, dtype=float), np.pi)
    return float(wrapped) if np.ndim(wrapped) == 0 else wrapped


def grasp_axes(angles: np.ndarray | float) -> np.ndarray:
    """Unit grasp axes (..., 2) in the image plane for angles (...)."""
    angles = np.asarray(angles, dtype=float)
    return np.stack([np.cos(angles), np.sin(angles)], axis=-1)


def jaw_endpoints_px(centers: np.ndarray, angles: np.ndarray, widths_px: np.ndarray) -> np.ndarray:
    """Jaw contact pixels (..., 2, 2) for grasps with centres (..., 2), angles (...) and widths in px (...)."""
    offset = grasp_axes(angles) * (np.asarray(widths_px, dtype=float)[..., None] / 2.0)
    centers = np.asarray(centers, dtype=float)
    return np.stack([centers - offset, centers + offset], axis=-2)


def rotation_from_angle(angle: float) -> np.ndarray:
    """Gripper orientation (3x3, columns = gripper x, y, z in the camera frame) for an in-plane angle."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


@dataclass(frozen=True)
class Grasp2D:
    """A parallel-jaw grasp in a depth image.

    center: (u, v) pixel of the grasp centre; angle: grasp axis in the image plane, radians from +u
    towards +v; depth: gripper depth along the camera z axis in metres; width: jaw opening in metres.
    """

    center: tuple[float, float]
    angle: float
    depth: float
    width: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "center", (float(self.center[0]), float(self.center[1])))
        object.__setattr__(self, "angle", normalize_angle(self.angle))
        if not np.isfinite(self.depth) or self.depth <= 0:
            raise ValueError(f"grasp depth must be positive, got {self.depth}")
        if not np.isfinite(self.width) or self.width < 0:
            raise ValueError(f"grasp width must be non-negative, got {self.width}")

    @property
    def axis(self) -> np.ndarray:
        return grasp_axes(self.angle)

    def width_px(self, camera: CameraIntrinsics) -> float:
        """Jaw opening in pixels at the grasp depth."""
        p1, p2 = self.endpoints_px(camera)
        return float(np.linalg.norm(p2 - p1))

    def endpoints_px(self, camera: CameraIntrinsics) -> np.ndarray:
        """The two jaw contact points projected into the image, shape (2, 2)."""
        return camera.project(self.endpoints_3d(camera))

    def position(self, camera: CameraIntrinsics) -> np.ndarray:
        """Grasp centre in the camera frame, metres."""
        return camera.deproject_pixels(np.array(self.center), self.depth)

    def endpoints_3d(self, camera: CameraIntrinsics) -> np.ndarray:
        """Jaw contact points in the camera frame, shape (2, 3)."""
        axis3 = np.array([np.cos(self.angle), np.sin(self.angle), 0.0])
        center = self.position(camera)
        return np.stack([center - axis3 * self.width / 2, center + axis3 * self.width / 2])

    def pose(self, camera: CameraIntrinsics) -> tuple[np.ndarray, np.ndarray]:
        """Gripper pose in the camera frame as (position (3,), quaternion (x, y, z, w))."""
        half = self.angle / 2.0
        return self.position(camera), np.array([0.0, 0.0, np.sin(half), np.cos(half)])

    @classmethod
    def from_endpoints(
        cls, p1: np.ndarray, p2: np.ndarray, depth: float, camera: CameraIntrinsics
    ) -> Grasp2D:
        """A grasp from two jaw contact pixels at a gripper depth."""
        p1, p2 = np.asarray(p1, dtype=float), np.asarray(p2, dtype=float)
        d = p2 - p1
        contacts = camera.deproject_pixels(np.stack([p1, p2]), depth)
        return cls(tuple((p1 + p2) / 2), float(np.arctan2(d[1], d[0])), depth,
                   float(np.linalg.norm(contacts[1] - contacts[0])))

    @classmethod
    def from_pose(
        cls, position: np.ndarray, quaternion: np.ndarray, width: float, camera: CameraIntrinsics
    ) -> Grasp2D:
        """A grasp from a gripper pose in the camera frame (approach must be close to the camera z axis)."""
        x, y, z, w = np.asarray(quaternion, dtype=float) / np.linalg.norm(quaternion)
        gripper_x = np.array([1 - 2 * (y * y + z * z), 2 * (x * y + z * w), 2 * (x * z - y * w)])
        gripper_z = np.array([2 * (x * z + y * w), 2 * (y * z - x * w), 1 - 2 * (x * x + y * y)])
        if gripper_z[2] < np.cos(np.deg2rad(5.0)):
            raise ValueError("gripper approach is more than 5 deg off the camera z axis: not a planar grasp")
        position = np.asarray(position, dtype=float)
        center = camera.project(position)
        return cls(tuple(center), float(np.arctan2(gripper_x[1], gripper_x[0])), float(position[2]), float(width))
