"""Planner test fixtures: rendered tabletop scenes and a hand-written ONNX model."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import trimesh

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from heuristic_model import write_heuristic_model

from gqcnn_core.camera import CameraIntrinsics
from gqcnn_core.render import ObjectRenderer, look_at


class Scene:
    """A box on a table seen by the Dex-Net camera, with its true object mask."""

    def __init__(self, size=(0.03, 0.07, 0.05), position=(0.02, -0.01), yaw=0.5, camera_position=(0.05, 0.08, 0.68)):
        self.camera = CameraIntrinsics.primesense()
        self.size = np.asarray(size)
        mesh = trimesh.creation.box(self.size)
        self.world_object = np.eye(4)
        self.world_object[:3, 3] = [position[0], position[1], self.size[2] / 2]
        self.world_object[:2, :2] = [[np.cos(yaw), -np.sin(yaw)], [np.sin(yaw), np.cos(yaw)]]
        self.world_camera = look_at(np.asarray(camera_position, dtype=float))
        renderer = ObjectRenderer(mesh, self.camera)
        self.depth = renderer.render(self.world_camera, self.world_object)
        table = renderer.render(self.world_camera, np.diag([1.0, 1.0, 1.0, 1.0]) @ _far_away())
        self.mask = self.depth < table - 0.003

    def object_pixels(self) -> np.ndarray:
        return np.argwhere(self.mask)[:, ::-1]  # (u, v)

    def mesh_collisions(self, grasps, gripper) -> np.ndarray:
        """The labels' mesh check (dexnet.collision) on the true box for image grasps, jaw axis levelled as the
        executor does: the ground truth the image collision check is tested against."""
        from dexnet.collision import grasps_collide

        rotation, origin = self.world_camera[:3, :3], self.world_camera[:3, 3]
        centres = self.camera.deproject_pixels(grasps.centers, grasps.depths) @ rotation.T + origin
        axes = np.column_stack([np.cos(grasps.angles), np.sin(grasps.angles), np.zeros(len(grasps))]) @ rotation.T
        axes[:, 2] = 0.0
        box = trimesh.creation.box(self.size).apply_transform(self.world_object)
        return grasps_collide(box, centres, axes / np.linalg.norm(axes, axis=1, keepdims=True), gripper,
                              table_clearance=0.0)


class Heap:
    """Boxes on a table (a small heap), rendered as one scene, with the true label image (box i has label i + 1)."""

    def __init__(self, boxes: list[tuple[tuple[float, float, float], tuple[float, float], float]],
                 camera_position=(0.0, 0.0, 0.68)):
        self.camera = CameraIntrinsics.primesense()
        world_camera = look_at(np.asarray(camera_position, dtype=float))
        meshes = []
        for size, (x, y), yaw in boxes:
            pose = np.eye(4)
            pose[:3, 3] = [x, y, size[2] / 2]
            pose[:2, :2] = [[np.cos(yaw), -np.sin(yaw)], [np.sin(yaw), np.cos(yaw)]]
            meshes.append(trimesh.creation.box(size).apply_transform(pose))
        self.depth = ObjectRenderer(trimesh.util.concatenate(meshes), self.camera).render(world_camera, np.eye(4))
        self.labels = np.zeros(self.depth.shape, dtype=np.int32)
        for label, mesh in enumerate(meshes, start=1):
            alone = ObjectRenderer(mesh, self.camera).render(world_camera, np.eye(4))
            self.labels[(np.abs(alone - self.depth) < 1e-4) & (alone < self.depth.max() - 0.003)] = label
        self.mask = self.labels > 0


def _far_away() -> np.ndarray:
    pose = np.eye(4)
    pose[:3, 3] = [100.0, 100.0, 0.0]  # object out of view: renders the bare table
    return pose


@pytest.fixture(scope="session")
def heuristic_model_path(tmp_path_factory) -> Path:
    return write_heuristic_model(tmp_path_factory.mktemp("model") / "heuristic.onnx")


@pytest.fixture(scope="session")
def scene() -> Scene:
    return Scene()


@pytest.fixture(scope="session")
def heap() -> Heap:
    """Three boxes well apart (a heap as segmented: three regions)."""
    return Heap([((0.03, 0.06, 0.05), (-0.09, -0.04), 0.3), ((0.025, 0.07, 0.04), (0.08, -0.05), -0.6),
                 ((0.035, 0.05, 0.06), (0.0, 0.08), 1.2)])
