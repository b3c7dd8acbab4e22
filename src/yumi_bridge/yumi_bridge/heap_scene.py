"""What the camera sees of a heap: the depth image, a ground-truth label image per object, and the scene record.

The heap is rendered with one ObjectRenderer per object (each builds its ray-casting structure once, in its own
frame, and casts only the rays through its own bounding box); the nearest hit of each pixel wins and names the
object in the label image. For 10 objects that is about 0.1 s per 640x480 image.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from gqcnn_core.camera import CameraIntrinsics
from gqcnn_core.grasp import Grasp2D
from gqcnn_core.render import ObjectRenderer, pixel_rays
from yumi_bridge.scene_view import SceneView


@dataclass(frozen=True)
class HeapScene(SceneView):
    """The heap as it lies now and what the camera sees of it. World frame = YuMi base frame."""

    seed: int
    world_camera: np.ndarray  # 4x4 pose of the camera optical frame (the same for the whole heap)
    camera: CameraIntrinsics
    depth: np.ndarray  # float32 metres, NaN where nothing is hit (ideal; see `sensed`)
    labels: np.ndarray  # int32, same shape: k + 1 where object k is the first hit, 0 for the table (or nothing)
    world_objects: dict[int, np.ndarray]  # object index -> 4x4 pose of its mesh frame, for objects in the heap
    registration_error: np.ndarray  # camera frame, 4x4
    object_densities: tuple[float, ...]  # kg/m^3, one per object (all objects, also removed ones)
    attempts: int = 0  # grasp attempts made on this heap so far
    removed: tuple[int, ...] = field(default=())  # objects taken out so far (picked or fallen out), in order

    @property
    def objects(self) -> list[int]:
        """Indices of the objects still in the heap."""
        return sorted(self.world_objects)

    def object_at(self, grasp: Grasp2D) -> int | None:
        """The object a grasp in this image aims at: the most frequent label on the segment between its jaw
        pixels (the centre pixel may fall between two objects); None if the segment sees only the table."""
        p1, p2 = grasp.endpoints_px(self.camera)
        points = np.linspace(p1, p2, 21)
        u = np.clip(np.round(points[:, 0]).astype(int), 0, self.camera.width - 1)
        v = np.clip(np.round(points[:, 1]).astype(int), 0, self.camera.height - 1)
        counts = Counter(int(label) for label in self.labels[v, u] if label > 0)
        return counts.most_common(1)[0][0] - 1 if counts else None


def render_heap(
    renderers: dict[int, ObjectRenderer], poses: dict[int, np.ndarray], world_camera: np.ndarray, table_z: float
) -> tuple[np.ndarray, np.ndarray]:
    """Depth (float32 m, NaN: no hit) and labels (int32, k + 1 for object k, 0 table) of objects `poses` (world
    frame, mesh frames) on the table plane z = table_z, one ObjectRenderer per object: each casts only the rays
    through its own bounding box, and the nearest hit wins."""
    shift = np.eye(4)
    shift[2, 3] = -table_z  # ObjectRenderer's table is z = 0
    camera_pose = shift @ world_camera
    any_renderer = next(iter(renderers.values()))
    rays_z = pixel_rays(any_renderer.camera) @ camera_pose[2, :3]
    with np.errstate(divide="ignore", invalid="ignore"):
        table = (-camera_pose[2, 3] / rays_z).astype(np.float32)
    table[~(table > 0)] = np.nan
    depth = table.copy()
    labels = np.zeros(depth.shape, dtype=np.int32)
    for k, pose in poses.items():
        rendered = renderers[k].render(camera_pose, shift @ pose)
        nearer = (rendered < table) & ~(depth <= rendered)  # an object hit, nearer than anything so far
        depth[nearer] = rendered[nearer]
        labels[nearer] = k + 1
    return depth, labels
