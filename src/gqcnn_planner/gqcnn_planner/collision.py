"""The planner's collision check: can the gripper come down to a grasp without touching what the depth image shows?

The image is read as a height field, so the check covers everything in view (neighbouring objects in a heap too),
not just the segment a grasp is on.
"""

from __future__ import annotations

import numpy as np

from gqcnn_core.camera import CameraIntrinsics
from gqcnn_core.depth import missing
from gqcnn_core.gripper import Gripper
from gqcnn_planner.sampling import GraspCandidates
from gqcnn_planner.segmentation import SegmentationConfig, fit_table_plane


def table_normal(depth: np.ndarray, camera: CameraIntrinsics, max_tilt: float = np.radians(60.0),
                 min_inlier_share: float = 0.3) -> np.ndarray:
    """Unit normal of the table plane in the camera frame, pointing towards the camera: the executor approaches
    along its opposite (straight down, as Dex-Net's labels assume). The optical axis stands in when no plane holds
    `min_inlier_share` of the seen points (no table in view, or an object filling it) or the plane is tilted more
    than `max_tilt` from the optical axis."""
    towards_camera = np.array([0.0, 0.0, -1.0])
    step = max(1, int(np.sqrt(depth.size / 5000)))  # a coarse grid is plenty for one dominant plane
    grid = depth[::step, ::step]
    v, u = np.mgrid[0:depth.shape[0]:step, 0:depth.shape[1]:step]
    valid = ~missing(grid)
    points = camera.deproject_pixels(np.stack([u[valid], v[valid]], axis=-1), grid[valid])
    config = SegmentationConfig(ransac_iterations=50)
    try:
        plane = fit_table_plane(points, np.random.default_rng(0), config)
    except ValueError:
        return towards_camera
    share = np.mean(np.abs(points @ plane[:3] + plane[3]) < config.plane_inlier_distance)
    dominant = share >= min_inlier_share and plane[:3] @ towards_camera >= np.cos(max_tilt)
    return plane[:3] if dominant else towards_camera


def gripper_clear(depth: np.ndarray, candidates: GraspCandidates, camera: CameraIntrinsics, gripper: Gripper,
                  up: np.ndarray | None = None, margin: float = 0.002) -> np.ndarray:
    """True where the gripper can come down to each grasp without touching anything seen in the depth image.

    The model is that of Dex-Net's labels and of the executor: jaws fully open (the gripper's `max_width`), the
    approach straight down (against `up`, the table normal; default the optical axis) with the jaw axis levelled,
    finger and palm boxes swept up from the grasp. It is deliberately stricter than the labels' check: each
    finger's whole sweep in to its contact is checked at every height, from 2 px outside the contact, and the
    boxes are `margin` wider sideways; what is not in the image counts as blocked.

    The depth image is a height field: whatever lies behind a seen surface is taken as solid, so a point of the
    gripper collides when the pixel it projects to shows a surface nearer than the point. Points are checked on
    grids over both fingers' sweeps at the fingertips, half-way up and at the palm, and over the palm's footprint
    at its underside, middle and top."""
    if len(candidates) == 0:
        return np.zeros(0, dtype=bool)
    up = np.array([0.0, 0.0, -1.0]) if up is None else np.asarray(up, dtype=float)
    focal = (camera.fx + camera.fy) / 2
    tip = candidates.depths
    centre = camera.deproject_pixels(candidates.centers, tip)  # (N, 3), camera frame
    image_axis = np.column_stack([np.cos(candidates.angles), np.sin(candidates.angles), np.zeros(len(tip))])
    axis = image_axis - (image_axis @ up)[:, None] * up  # levelled onto the table, as the executor does
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    across = np.cross(up, axis)
    # From just outside the contact (its edge pixel is a blurred depth step of the object itself) outwards.
    inner = candidates.widths / 2 + np.maximum(0.2 * gripper.finger_width, 2.0 * tip / focal)
    outer = np.maximum(gripper.max_width / 2 + gripper.finger_width + margin, inner)
    along = np.linspace(0.0, 1.0, 12)
    finger_y = np.linspace(-1.0, 1.0, 11) * (gripper.finger_thickness / 2 + margin)
    palm_x = np.linspace(-1.0, 1.0, 24)[:, None] * (gripper.palm_width / 2 + margin)
    palm_y = np.linspace(-1.0, 1.0, 14)[None, :] * (gripper.palm_thickness / 2 + margin)
    palm = np.broadcast_arrays(palm_x, palm_y)

    def grid(part: str, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) of the part's checked points, (n, P) each: x along the grasp axis, y across, metres."""
        if part == "palm":
            return tuple(np.broadcast_to(g.ravel(), (len(index), g.size)) for g in palm)
        x = inner[index, None] + along * (outer - inner)[index, None]
        x = np.concatenate([-x, x], axis=1)[:, :, None] + 0 * finger_y  # both fingers
        return x.reshape(len(index), -1), np.broadcast_to(finger_y, x.shape).reshape(len(index), -1)

    fl, ph = gripper.finger_length, gripper.palm_height
    ends = candidates.endpoints_px()
    alive = np.flatnonzero(((ends >= 0) & (ends < np.array([camera.width, camera.height]))).all(axis=(1, 2)))
    # Fingertips first: they reject most candidates, so the later checks run on the few left.
    for part, height in (("finger", 0.0), ("finger", fl), ("palm", fl), ("finger", fl / 2), ("palm", fl + ph / 2),
                         ("palm", fl + ph)):
        if len(alive) == 0:
            break
        x, y = grid(part, alive)
        points = (centre[alive, None, :] + x[..., None] * axis[alive, None, :] + y[..., None] * across[alive, None, :]
                  + height * up)
        pixels = points[..., :2] / points[..., 2:] * (camera.fx, camera.fy) + (camera.cx, camera.cy)
        rows, cols = np.round(pixels[..., 1]).astype(int), np.round(pixels[..., 0]).astype(int)
        seen = (rows >= 0) & (rows < depth.shape[0]) & (cols >= 0) & (cols < depth.shape[1])
        surface = depth[np.clip(rows, 0, depth.shape[0] - 1), np.clip(cols, 0, depth.shape[1] - 1)]
        alive = alive[(seen & (surface > points[..., 2])).all(axis=1)]
    clear = np.zeros(len(candidates), dtype=bool)
    clear[alive] = True
    return clear
