"""What a simulated scene's camera gives the robot: believed extrinsics, grasp poses, sensed depth (single objects
and heaps alike)."""

from __future__ import annotations

import numpy as np

from gqcnn_core.camera import CameraIntrinsics
from gqcnn_core.frames import CameraExtrinsics, pose_matrix
from gqcnn_core.grasp import Grasp2D
from yumi_bridge.sim_settings import sensed_depth


class SceneView:
    """Mixin for scene records with `world_camera`, `registration_error`, `camera` and `depth` fields."""

    world_camera: np.ndarray  # 4x4 pose of the camera optical frame in the world (= YuMi base) frame
    registration_error: np.ndarray  # camera frame, 4x4
    camera: CameraIntrinsics
    depth: np.ndarray  # float32 metres, NaN where nothing is hit (ideal)

    def extrinsics(self) -> CameraExtrinsics:
        """The camera pose the robot believes (the true one times the registration error), as calibrated extrinsics
        for motion planning."""
        believed = self.world_camera @ self.registration_error
        return CameraExtrinsics(believed, True, "world", self.camera.frame_id, "simulated camera")

    def grasp_pose(self, grasp: Grasp2D) -> np.ndarray:
        """Pose (camera optical frame) of a grasp planned in this scene's depth image."""
        return pose_matrix(*grasp.pose(self.camera))

    def sensed(self, sensor: str, rng: np.random.Generator) -> np.ndarray:
        """The depth image as the sensor model `sensor` gives it (0: no return); see sim_settings.sensed_depth."""
        return sensed_depth(self.depth, self.camera, sensor, rng)
