"""Depth rendering of an object on a table by ray casting (trimesh + Embree), and the Dex-Net camera model.

Chosen by measurement on these CPU-only machines: Embree ray casting (embreex, through trimesh) needs no
GL context, is exact for a pinhole depth camera and renders a 640x480 object-plus-table image in tens of
milliseconds because only the rays that can hit the object (its projected bounding box) are cast; the table
is an infinite plane intersected analytically. See README "Rendering" for the comparison.
"""

from __future__ import annotations

import numpy as np
import trimesh
from trimesh.ray.ray_pyembree import RayMeshIntersector

from gqcnn_core.camera import CameraIntrinsics

# Dex-Net 2.0 (paper Sec. IV-A): camera on a sphere around the table centre.
CAMERA_RADIUS = (0.65, 0.75)  # metres
CAMERA_POLAR = (0.05 * np.pi, 0.1 * np.pi)  # radians from the table normal
OBJECT_PLANAR_RANGE = 0.1  # object x, y ~ U[-0.1, 0.1] m on the table
# Dataset v2: camera mounts as users have them (a fixed camera above a table, or a wrist camera at a
# pre-grasp pose): height above the table and tilt of the optical axis off vertical, both uniform.
MOUNT_HEIGHT = (0.5, 0.9)  # metres
MOUNT_MAX_TILT_DEG = 25.0


def look_at(position: np.ndarray, target: np.ndarray = np.zeros(3)) -> np.ndarray:
    """World pose (4x4) of a REP-103 optical frame at `position` with its z axis through `target`.

    The image's x axis is horizontal (perpendicular to world z), so a camera above the table has no roll.
    """
    z = np.asarray(target, dtype=float) - np.asarray(position, dtype=float)
    z /= np.linalg.norm(z)
    x = np.cross(z, [0.0, 0.0, 1.0])
    if np.linalg.norm(x) < 1e-9:  # looking straight down: any horizontal x works
        x = np.array([1.0, 0.0, 0.0])
    x /= np.linalg.norm(x)
    pose = np.eye(4)
    pose[:3, :3] = np.column_stack([x, np.cross(z, x), z])
    pose[:3, 3] = position
    return pose


def sample_camera_pose(rng: np.random.Generator) -> np.ndarray:
    """Camera pose in the world (table centre at the origin, z up), distributed as in Dex-Net 2.0."""
    radius = rng.uniform(*CAMERA_RADIUS)
    polar = rng.uniform(*CAMERA_POLAR)
    azimuth = rng.uniform(0.0, 2.0 * np.pi)
    position = radius * np.array([np.sin(polar) * np.cos(azimuth), np.sin(polar) * np.sin(azimuth), np.cos(polar)])
    return look_at(position)


def sample_mount_camera_pose(
    rng: np.random.Generator, height: tuple[float, float] = MOUNT_HEIGHT, max_tilt_deg: float = MOUNT_MAX_TILT_DEG,
    target: np.ndarray = np.zeros(3),
) -> tuple[np.ndarray, float, float]:
    """Camera pose looking at `target` on the table from a height U(height) m above the table, its optical
    axis tilted U[0, max_tilt_deg] off vertical towards a uniform azimuth. Returns (world_camera, height m,
    tilt rad)."""
    z = rng.uniform(*height)
    tilt = np.radians(rng.uniform(0.0, max_tilt_deg))
    azimuth = rng.uniform(0.0, 2.0 * np.pi)
    offset = (z - target[2]) * np.tan(tilt) * np.array([np.cos(azimuth), np.sin(azimuth)])
    position = np.array([target[0] + offset[0], target[1] + offset[1], z])
    return look_at(position, target), float(z), float(tilt)


def sample_planar_pose(rng: np.random.Generator) -> np.ndarray:
    """Object placement on the table: translation U([-0.1, 0.1]^2), rotation about z U[0, 2 pi)."""
    x, y = rng.uniform(-OBJECT_PLANAR_RANGE, OBJECT_PLANAR_RANGE, size=2)
    theta = rng.uniform(0.0, 2.0 * np.pi)
    pose = np.eye(4)
    pose[:2, :2] = [[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]]
    pose[:2, 3] = x, y
    return pose


def pixel_rays(camera: CameraIntrinsics) -> np.ndarray:
    """Ray directions (H, W, 3) in the camera frame with unit z, so ray length t equals depth."""
    v, u = np.indices(camera.shape, dtype=float)
    return np.stack([(u - camera.cx) / camera.fx, (v - camera.cy) / camera.fy, np.ones_like(u)], axis=-1)


class ObjectRenderer:
    """Renders depth images of one mesh on the table plane z = 0 from many camera poses.

    The Embree scene is built once in the object frame; each image transforms its rays into that frame.
    """

    def __init__(self, mesh: trimesh.Trimesh, camera: CameraIntrinsics) -> None:
        self.mesh = mesh
        self.camera = camera
        self._intersector = RayMeshIntersector(mesh)
        self._rays = pixel_rays(camera)
        self._corners = trimesh.bounds.corners(mesh.bounds)

    def render(self, world_camera: np.ndarray, world_object: np.ndarray, margin_px: int = 2,
               window: tuple[int, int, int, int] | None = None) -> np.ndarray:
        """Depth image (H, W) float32 metres of the object at `world_object` on the table plane.

        Pixels whose ray misses both object and table (looking above the horizon) are NaN. With `window`
        (u0, v0, u1, v1) only those pixels are rendered (the rest are NaN): the dataset needs only the
        region its crops cover.
        """
        u0, v0, u1, v1 = window if window is not None else (0, 0, self.camera.width, self.camera.height)
        camera_world = np.linalg.inv(world_camera)
        depth = np.full(self.camera.shape, np.nan, np.float32)
        depth[v0:v1, u0:u1] = self._table_depth(world_camera, self._rays[v0:v1, u0:u1])
        box = self._object_pixel_box(camera_world @ world_object, margin_px)
        if box is None:
            return depth
        u0, v0 = max(box[0], u0), max(box[1], v0)
        u1, v1 = min(box[2], u1), min(box[3], v1)
        if u1 <= u0 or v1 <= v0:
            return depth
        rays = self._rays[v0:v1, u0:u1].reshape(-1, 3)
        object_camera = np.linalg.inv(world_object) @ world_camera
        origins = np.broadcast_to(object_camera[:3, 3], rays.shape)
        directions = rays @ object_camera[:3, :3].T
        # Embree wants unit directions; the hit distance along a unit ray is rescaled to depth below.
        norms = np.linalg.norm(directions, axis=1, keepdims=True)
        locations, ray_index, _ = self._intersector.intersects_location(
            origins, directions / norms, multiple_hits=False
        )
        if len(ray_index):
            hit_depth = np.linalg.norm(locations - origins[ray_index], axis=1) / norms[ray_index, 0]
            window_depth = depth[v0:v1, u0:u1].reshape(-1)
            window_depth[ray_index] = np.fmin(window_depth[ray_index], hit_depth)
            depth[v0:v1, u0:u1] = window_depth.reshape(v1 - v0, u1 - u0)
        return depth

    def _table_depth(self, world_camera: np.ndarray, rays: np.ndarray) -> np.ndarray:
        """Analytic depth of the infinite table plane z = 0 along camera-frame `rays` (..., 3)."""
        directions_z = rays @ world_camera[2, :3]  # world z component of each ray
        with np.errstate(divide="ignore", invalid="ignore"):
            t = -world_camera[2, 3] / directions_z
        t[~(t > 0)] = np.nan
        return t.astype(np.float32)

    def _object_pixel_box(self, camera_object: np.ndarray, margin_px: int) -> tuple[int, int, int, int] | None:
        corners = trimesh.transform_points(self._corners, camera_object)
        if (corners[:, 2] <= 1e-3).any():
            u0, v0, u1, v1 = 0, 0, self.camera.width, self.camera.height  # object straddles the camera plane
        else:
            pixels = self.camera.project(corners)
            u0, v0 = np.floor(pixels.min(axis=0)).astype(int) - margin_px
            u1, v1 = np.ceil(pixels.max(axis=0)).astype(int) + margin_px + 1
        u0, v0 = max(u0, 0), max(v0, 0)
        u1, v1 = min(u1, self.camera.width), min(v1, self.camera.height)
        return (u0, v0, u1, v1) if u1 > u0 and v1 > v0 else None


def render_random_view(
    renderer: ObjectRenderer, table_object: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One Dex-Net 2.0 image of an object resting in `table_object` (a stable pose): random planar placement
    and camera pose. Returns (depth, world_object, world_camera)."""
    world_object = sample_planar_pose(rng) @ table_object
    world_camera = sample_camera_pose(rng)
    return renderer.render(world_camera, world_object), world_object, world_camera
