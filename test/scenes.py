"""Analytic depth images with known geometry for the core's tests."""

from __future__ import annotations

import numpy as np

from gqcnn_core.camera import CameraIntrinsics


def box_on_table(
    camera: CameraIntrinsics,
    size_xy: tuple[float, float] = (0.04, 0.08),
    height: float = 0.05,
    table_depth: float = 0.7,
    center_xy: tuple[float, float] = (0.0, 0.0),
    yaw: float = 0.0,
) -> np.ndarray:
    """A camera looking straight down at a table with a box on it; box sides are not modelled.

    The box top (at depth table_depth - height) is a rectangle of size_xy (metres, along the camera x and
    y axes before the yaw rotation) centred at center_xy in the camera's x-y plane.
    """
    top = table_depth - height
    v, u = np.indices(camera.shape, dtype=float)
    points = camera.deproject_pixels(np.stack([u, v], axis=-1), top)
    c, s = np.cos(yaw), np.sin(yaw)
    dx, dy = points[..., 0] - center_xy[0], points[..., 1] - center_xy[1]
    local_x, local_y = c * dx + s * dy, -s * dx + c * dy
    inside = (np.abs(local_x) <= size_xy[0] / 2) & (np.abs(local_y) <= size_xy[1] / 2)
    return np.where(inside, top, table_depth).astype(np.float32)


def smooth_bump(camera: CameraIntrinsics, center_px: tuple[float, float], angle: float) -> np.ndarray:
    """A smooth anisotropic bump (long along `angle`) on a tilted plane: exact to crop at any rotation."""
    v, u = np.indices(camera.shape, dtype=float)
    du, dv = u - center_px[0], v - center_px[1]
    c, s = np.cos(angle), np.sin(angle)
    along, across = c * du + s * dv, -s * du + c * dv
    bump = 0.03 * np.exp(-((along / 25.0) ** 2) - (across / 8.0) ** 2)
    ramp = 0.0002 * along + 0.0001 * across  # breaks the bump's symmetry so a wrong rotation shows
    return (0.7 - bump + ramp).astype(np.float32)
