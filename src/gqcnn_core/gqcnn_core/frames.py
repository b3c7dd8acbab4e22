"""Poses and the camera extrinsics: the pose of the camera optical frame in the robot base frame.

Poses are 4x4 homogeneous matrices named `<to>_<from>`: `base_camera` maps points in the camera optical frame
to the robot base frame. Quaternions are (x, y, z, w) like ROS messages. Plain Python (numpy, scipy, yaml): the
planner resolves a goal's target_frame and the TF publisher announces the camera with this, the robot bridge
executes with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from gqcnn_core.config_file import read_yaml_mapping


def pose_matrix(position: np.ndarray, quaternion_xyzw: np.ndarray) -> np.ndarray:
    """4x4 pose from a position (3,) and a quaternion (x, y, z, w); raises ValueError on non-finite input."""
    position = np.asarray(position, dtype=float).reshape(3)
    quaternion = np.asarray(quaternion_xyzw, dtype=float).reshape(4)
    if not (np.isfinite(position).all() and np.isfinite(quaternion).all()):
        raise ValueError(f"pose has non-finite values: position {position.tolist()}, quaternion {quaternion.tolist()}")
    norm = np.linalg.norm(quaternion)
    if abs(norm - 1.0) > 1e-2:
        raise ValueError(f"orientation quaternion must have unit length, got length {norm:.4f}")
    pose = np.eye(4)
    pose[:3, :3] = Rotation.from_quat(quaternion / norm).as_matrix()
    pose[:3, 3] = position
    return pose


def pose_parts(pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """4x4 pose -> (position (3,), quaternion (x, y, z, w) with w >= 0)."""
    quaternion = Rotation.from_matrix(pose[:3, :3]).as_quat()
    if quaternion[3] < 0:
        quaternion = -quaternion
    return pose[:3, 3].copy(), quaternion


@dataclass(frozen=True)
class CameraExtrinsics:
    """Pose of the camera optical frame in the robot base frame, and whether it was actually calibrated."""

    base_camera: np.ndarray = field(default_factory=lambda: np.eye(4))
    calibrated: bool = False
    base_frame: str = "yumi_base_link"
    camera_frame: str = "camera_depth_optical_frame"
    source: str = ""  # where it came from, for messages

    @classmethod
    def from_pose(
        cls, translation: np.ndarray, quaternion_xyzw: np.ndarray, calibrated: bool, **kwargs: str
    ) -> CameraExtrinsics:
        return cls(pose_matrix(translation, quaternion_xyzw), bool(calibrated), **kwargs)


def load_extrinsics(path: str | Path) -> CameraExtrinsics:
    """Read config/camera_extrinsics.yaml; raises FileNotFoundError or ValueError naming the problem."""
    path = Path(path)
    data = read_yaml_mapping(path, "camera extrinsics")
    missing = [key for key in ("translation", "quaternion_xyzw", "calibrated") if key not in data]
    if missing:
        raise ValueError(f"{path}: missing keys: {', '.join(missing)}")
    if not isinstance(data["calibrated"], bool):
        raise ValueError(f"{path}: 'calibrated' must be true or false, got {data['calibrated']!r}")
    try:
        translation = np.asarray(data["translation"], dtype=float)
        quaternion = np.asarray(data["quaternion_xyzw"], dtype=float)
        if translation.shape != (3,) or quaternion.shape != (4,):
            raise ValueError("translation needs 3 numbers and quaternion_xyzw 4")
        return CameraExtrinsics.from_pose(
            translation,
            quaternion,
            data["calibrated"],
            base_frame=str(data.get("base_frame", "yumi_base_link")),
            camera_frame=str(data.get("camera_frame", "camera_depth_optical_frame")),
            source=str(path),
        )
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}: {err}") from None
