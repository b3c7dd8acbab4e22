"""Frames of the grasp executor: camera extrinsics, grasp poses in the YuMi base frame, the finger tool offset.

Poses are 4x4 homogeneous matrices named `<to>_<from>`: `base_camera` maps points in the camera optical frame
to the YuMi base frame. Quaternions are (x, y, z, w) like ROS messages; RAPID's [q1, q2, q3, q4] is (w, x, y, z).

The grasp frame (Grasp.msg, gqcnn_core.grasp): origin between the jaw tips, x = jaw closing axis, z = approach.
The tool (TCP) frame of the gripper is the same frame, so a grasp pose in the base frame is the TCP target; the
robot moves its flange to `base_tcp @ inv(flange_tcp)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# The pose helpers and the extrinsics file live in the plain-Python core (the planner uses them too).
from gqcnn_core.frames import CameraExtrinsics, load_extrinsics, pose_matrix, pose_parts  # noqa: F401


def grasp_in_base(extrinsics: CameraExtrinsics, camera_grasp: np.ndarray) -> np.ndarray:
    """Grasp (TCP) pose in the camera optical frame -> the same pose in the robot base frame."""
    return extrinsics.base_camera @ camera_grasp


def grasp_in_camera(extrinsics: CameraExtrinsics, base_grasp: np.ndarray) -> np.ndarray:
    """Inverse of grasp_in_base."""
    return np.linalg.inv(extrinsics.base_camera) @ base_grasp


@dataclass(frozen=True)
class ToolOffset:
    """Pose of the TCP (point between the jaw tips, x = closing axis, z = approach) in the robot flange frame."""

    flange_tcp: np.ndarray = field(default_factory=lambda: pose_matrix([0.0, 0.0, 0.1142], [0.0, 0.0, 0.0, 1.0]))

    @classmethod
    def from_parameters(cls, translation: np.ndarray, quaternion_xyzw: np.ndarray) -> ToolOffset:
        return cls(pose_matrix(translation, quaternion_xyzw))

    def flange_pose(self, base_tcp: np.ndarray) -> np.ndarray:
        """Where the flange must be for the TCP to reach `base_tcp`."""
        return base_tcp @ np.linalg.inv(self.flange_tcp)

    def tcp_pose(self, base_flange: np.ndarray) -> np.ndarray:
        return base_flange @ self.flange_tcp
