"""Collision checks for top-down parallel-jaw grasps on an object resting on a table.

World frame: the table is the plane z = 0, z points up, the object mesh is already in its resting pose
above the table; lengths in metres. The gripper comes straight down along -z to the grasp centre with its
jaws open at `gripper.max_width`, closing along the grasp axis. Its sweep is modelled by boxes that
reach from the grasp height upwards without end (everything the gripper passes through on the way down):
two fingers just outside the open jaws and, from `gripper.finger_length` above the grasp height, the
palm. The object is represented by its vertices plus dense, deterministic surface samples, so thin
features narrower than the sample spacing may be missed (the boxes are padded by half the spacing).
"""

from __future__ import annotations

import numpy as np
import trimesh

from gqcnn_core.gripper import Gripper

# Grasps whose axis is within this angle of vertical have no top-down approach at all.
_MIN_AXIS_TILT_FROM_VERTICAL_DEG = 1.0


def axis_parallel_to_table(axes_world: np.ndarray, max_angle_deg: float = 5.0) -> np.ndarray:
    """(N,) bool: whether each grasp axis (N, 3) is within `max_angle_deg` of the table plane (z = 0)."""
    axes = np.asarray(axes_world, dtype=float).reshape(-1, 3)
    norms = np.linalg.norm(axes, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        sine = np.abs(axes[:, 2]) / norms
    return np.nan_to_num(sine, nan=1.0) <= np.sin(np.radians(max_angle_deg))


def grasps_collide(
    mesh_world: trimesh.Trimesh,
    centers_world: np.ndarray,
    axes_world: np.ndarray,
    gripper: Gripper,
    table_clearance: float = 0.005,
    sample_spacing: float = 0.002,
    max_samples: int = 50_000,
) -> np.ndarray:
    """(N,) bool: whether a top-down approach to each grasp hits the object or the table.

    centers_world (N, 3) and axes_world (N, 3) are in the world frame (see module docstring). The gripper
    approaches along -z tilted only as much as the axis leaves the table plane, so the approach stays
    perpendicular to the axis. A grasp collides if any object point lies inside the swept finger or palm
    boxes, if the lowest fingertip corner is less than `table_clearance` above the table (z = 0; a margin
    for depth and positioning error), or if the axis is (nearly) vertical so there is no top-down approach.
    """
    centers = np.asarray(centers_world, dtype=float).reshape(-1, 3)
    axes = np.asarray(axes_world, dtype=float).reshape(-1, 3)
    n = len(centers)
    if n == 0:
        return np.zeros(0, dtype=bool)

    # Gripper frame per grasp: x = grasp axis, up = -approach (the approach is -z made perpendicular to x).
    x_axis = axes / np.linalg.norm(axes, axis=1, keepdims=True)
    up = np.array([0.0, 0.0, 1.0]) - x_axis[:, 2:3] * x_axis
    up_norm = np.linalg.norm(up, axis=1, keepdims=True)
    no_approach = up_norm[:, 0] < np.sin(np.radians(_MIN_AXIS_TILT_FROM_VERTICAL_DEG))
    up = up / np.where(up_norm > 0, up_norm, 1.0)
    y_axis = np.cross(up, x_axis)

    # Table: the fingertip faces lie at the grasp height; their lowest corner is the outer edge of the
    # finger on the low side of a tilted axis (y is horizontal by construction).
    reach = gripper.max_width / 2.0 + gripper.finger_width
    lowest_fingertip = centers[:, 2] - np.abs(x_axis[:, 2]) * reach
    hits_table = lowest_fingertip < table_clearance

    points = _object_points(mesh_world, sample_spacing, max_samples)
    pad = sample_spacing / 2.0
    inner, outer = gripper.max_width / 2.0, reach
    hits_object = np.zeros(n, dtype=bool)
    for i in np.flatnonzero(~(no_approach | hits_table)):
        local = points - centers[i]
        height = local @ up[i]
        above = height >= -pad  # the sweep never reaches below the grasp height
        if not above.any():
            continue
        along = np.abs(local[above] @ x_axis[i])
        across = np.abs(local[above] @ y_axis[i])
        height = height[above]
        in_finger = (along >= inner - pad) & (along <= outer + pad) & (across <= gripper.finger_thickness / 2 + pad)
        in_palm = (
            (height >= gripper.finger_length - pad)
            & (along <= gripper.palm_width / 2 + pad)
            & (across <= gripper.palm_thickness / 2 + pad)
        )
        hits_object[i] = bool(np.any(in_finger | in_palm))
    return no_approach | hits_table | hits_object


def _object_points(mesh: trimesh.Trimesh, spacing: float, max_samples: int) -> np.ndarray:
    """Vertices plus surface samples about `spacing` apart (fixed seed: the check is deterministic)."""
    count = int(min(max_samples, np.ceil(mesh.area / spacing**2)))
    samples, _ = trimesh.sample.sample_surface(mesh, max(count, 1), seed=0)
    return np.concatenate([np.asarray(mesh.vertices, dtype=float), samples])
