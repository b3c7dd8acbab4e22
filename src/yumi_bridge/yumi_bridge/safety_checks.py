"""The safety checks `motion.plan_grasp_motion` runs before anything moves; each returns a reason in words or None.

Lengths in metres in the YuMi base frame. The table clearance and the jaw width are checked with the `Gripper` the
robot carries (the same one the planner samples with).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from gqcnn_core.gripper import Gripper

if TYPE_CHECKING:  # motion.py imports this module: its types only for annotations
    from yumi_bridge.motion import MotionConfig, Waypoint

ARMS = ("left", "right")


def check_quality(q_value: float, min_q: float, allow_low_q: bool) -> str | None:
    if q_value < min_q and not allow_low_q:
        return f"predicted quality q={q_value:.3f} is below min_q={min_q:.3f} (set allow_low_q to execute it anyway)"
    return None


def check_jaw_width(width: float, gripper: Gripper) -> str | None:
    if width > gripper.max_width:
        return (
            f"grasp width {width * 1000:.1f} mm exceeds the gripper's largest opening "
            f"{gripper.max_width * 1000:.1f} mm ({gripper.name})"
        )
    if width < gripper.min_width:
        return (
            f"grasp width {width * 1000:.1f} mm is below the gripper's smallest opening "
            f"{gripper.min_width * 1000:.1f} mm ({gripper.name})"
        )
    return None


def check_approach(grasp_pose: np.ndarray, config: MotionConfig) -> str | None:
    tilt = math.acos(float(np.clip(-grasp_pose[2, 2], -1.0, 1.0)))  # TCP z against straight down
    if tilt > config.max_approach_tilt:
        return (
            f"approach axis is {math.degrees(tilt):.0f} deg from straight down "
            f"(limit {math.degrees(config.max_approach_tilt):.0f} deg): is the camera extrinsic right?"
        )
    return None


def check_workspace(waypoints: list[Waypoint], config: MotionConfig) -> str | None:
    low, high = np.asarray(config.workspace_min), np.asarray(config.workspace_max)
    for waypoint in waypoints:
        position = waypoint.pose[:3, 3]
        if np.any(position < low) or np.any(position > high):
            return (
                f"{waypoint.name} TCP position {np.round(position, 3).tolist()} m is outside the workspace box "
                f"{list(config.workspace_min)} .. {list(config.workspace_max)}"
            )
    return None


def lowest_finger_point(pose: np.ndarray, open_width: float, gripper: Gripper) -> float:
    """Lowest base-frame z of the two finger boxes (open to `open_width`) at TCP pose `pose`."""
    xs = np.array([open_width / 2, open_width / 2 + gripper.finger_width])
    corners = np.array(
        [
            [sx * x, sy * gripper.finger_thickness / 2, z]
            for x in xs
            for sx in (-1, 1)
            for sy in (-1, 1)
            for z in (-gripper.finger_length, 0.0)
        ]
    )
    return float((corners @ pose[:3, :3].T + pose[:3, 3])[:, 2].min())


def check_table_clearance(
    waypoints: list[Waypoint], open_width: float, config: MotionConfig, gripper: Gripper
) -> str | None:
    floor = config.table_z + config.table_clearance
    for waypoint in waypoints:
        lowest = lowest_finger_point(waypoint.pose, open_width, gripper)
        if lowest < floor:
            return (
                f"{waypoint.name}: a fingertip would be {(lowest - config.table_z) * 1000:.1f} mm above the table "
                f"(minimum {config.table_clearance * 1000:.1f} mm)"
            )
    return None


def check_reach(waypoints: list[Waypoint], arm: str, config: MotionConfig) -> str | None:
    tool = config.tool_offset()
    shoulder = config.shoulder(arm)
    for waypoint in waypoints:
        distance = float(np.linalg.norm(tool.flange_pose(waypoint.pose)[:3, 3] - shoulder))
        if distance > config.arm_reach:
            return (
                f"{waypoint.name} is out of reach of the {arm} arm: flange {distance:.3f} m from the shoulder "
                f"(reach {config.arm_reach:.3f} m)"
            )
    return None


def check_input(camera_grasp: np.ndarray, width: float, q_value: float, arm: str) -> list[str]:
    """Problems with the goal itself (INVALID_INPUT)."""
    problems = []
    if np.shape(camera_grasp) != (4, 4) or not np.isfinite(camera_grasp).all():
        problems.append("grasp pose must be a finite 4x4 pose")
    if not math.isfinite(width) or width < 0:
        problems.append(f"grasp width must be a non-negative number of metres, got {width}")
    if not 0.0 <= q_value <= 1.0:  # NaN fails too; a q of 5 is a broken model, not a very good grasp
        problems.append(f"q_value must be a probability in [0, 1], got {q_value}")
    if arm not in ARMS:
        problems.append(f"arm must be 'left', 'right' or empty, got {arm!r}")
    return problems
