"""Known-geometry grasps for the yumi_bridge tests (world frame = YuMi base frame, table at z = 0)."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from gqcnn_core.frames import CameraExtrinsics
from gqcnn_core.grasp import Grasp2D
from yumi_bridge.sim import SimScene

BOX = (0.035, 0.09, 0.05)  # the demo box: 35 mm short side, standing 50 mm tall
NODE_BOX = (0.03, 0.04, 0.08)  # the node tests' object (fixture box_file)
TABLE_CENTER = np.array([0.40, 0.0])
# Extrinsics that make the "camera" frame the base frame, so grasps can be written in base coordinates.
BASE_AS_CAMERA = CameraExtrinsics(np.eye(4), True, camera_frame="base", source="test")


def standing_box_pose(extents: tuple[float, float, float] = BOX) -> np.ndarray:
    pose = np.eye(4)
    pose[:2, 3] = TABLE_CENTER
    pose[2, 3] = extents[2] / 2
    return pose


def top_down_grasp(x: float, y: float, z: float, yaw: float = 0.0) -> np.ndarray:
    """TCP pose approaching straight down with the jaws closing along (cos yaw, sin yaw, 0)."""
    pose = np.eye(4)
    pose[:3, :3] = Rotation.from_euler("z", yaw).as_matrix() @ np.diag([1.0, -1.0, -1.0])
    pose[:3, 3] = x, y, z
    return pose


def grasp_across_short_side(scene: SimScene, extents: tuple[float, float, float]) -> Grasp2D:
    """The grasp a planner should find on a settled box: across its shorter horizontal side, 15 mm below the top
    (or half-way down a low box), as a Grasp2D in the scene's depth image."""
    extents = np.asarray(extents, dtype=float)
    rotation = scene.world_object[:3, :3]
    up = int(np.argmax(np.abs(rotation[2, :])))
    height = extents[up]
    short = min((i for i in range(3) if i != up), key=lambda i: extents[i])
    axis = rotation[:, short].copy()
    axis[2] = 0.0
    axis /= np.linalg.norm(axis)
    center = scene.world_object[:3, 3].copy()
    center[2] = height - min(0.015, height / 2)
    camera_world = np.linalg.inv(scene.world_camera)
    contacts = np.stack([center - axis * extents[short] / 2, center + axis * extents[short] / 2])
    contacts = contacts @ camera_world[:3, :3].T + camera_world[:3, 3]
    pixels = scene.camera.project(contacts)
    return Grasp2D.from_endpoints(pixels[0], pixels[1], float(contacts[:, 2].mean()), scene.camera)
