"""Grasp motion planning and the safety checks that run before anything moves (no ROS messages or nodes).

A grasp (TCP pose in the camera optical frame, jaw width, predicted quality) becomes a list of waypoints in the
robot base frame: pre-grasp above the grasp along the approach axis, approach, close, lift, transport to the drop
pose (and shake there, as in the Dex-Net 2.0 protocol), release. Every waypoint is a TCP pose; backends turn them
into robot targets (rws.py, through the tool offset) or gripper motions (sim.py).

`plan_grasp_motion` refuses with a `GraspRefusedError` whose `status` says which kind of problem it is (invalid input,
no calibration, unsafe) and whose message lists every reason in words.

MotionConfig's fields are written with gqcnn_core.settings' `setting()`, the one settings idiom of every node (plain
Python; the execute node turns the fields into ROS parameters with gqcnn_planner.node_settings).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from gqcnn_core.config_file import read_yaml_mapping
from gqcnn_core.frames import CameraExtrinsics, pose_matrix
from gqcnn_core.gripper import Gripper
from gqcnn_core.settings import setting  # the settings idiom of every node (gqcnn_planner.node_settings declares them)
from yumi_bridge.frames import ToolOffset, grasp_in_base
from yumi_bridge.safety_checks import (
    ARMS,
    check_approach,
    check_input,
    check_jaw_width,
    check_quality,
    check_reach,
    check_table_clearance,
    check_workspace,
)

# Refusal kinds; the node maps them to ExecuteGrasp.Result constants of the same name in upper case.
INVALID_INPUT = "invalid_input"
NOT_CALIBRATED = "not_calibrated"
UNSAFE = "unsafe"


@dataclass(frozen=True)
class MotionConfig:
    """Motion and safety parameters (all lengths in metres in the YuMi base frame, angles in radians).

    Dynamic (`ros2 param set` applies to the next goal): what an operator tunes while the robot works: min_q,
    allow_low_q, default_arm, speeds, approach and lift distances, shaking, grip force, jaw opening. Read-only:
    the robot's and the cell's geometry (workspace, table, reach, shoulders, tool offset).
    """

    default_arm: str = setting(
        "right", "Arm used when the goal leaves `arm` empty (the other one if only it can reach)",
        choices=ARMS, dynamic=True,
    )
    min_q: float = setting(
        0.0,
        "Grasps whose predicted quality q_value is below this are refused (0.0: the shipped model's q does not "
        "separate grasps that hold in the sim from those that fail, see benchmarks/min_q_threshold.py)",
        low=0.0, high=1.0, dynamic=True,
    )
    allow_low_q: bool = setting(False, "Execute grasps below min_q anyway (ExecuteGrasp has no per-goal override)",
                                dynamic=True)
    workspace_min: tuple = setting((0.15, -0.45, -0.01), "Lower corner of the box every TCP waypoint must stay in")
    workspace_max: tuple = setting((0.65, 0.45, 0.50), "Upper corner of the box every TCP waypoint must stay in")
    table_z: float = setting(0.0, "Height of the table surface in the base frame")
    table_clearance: float = setting(0.002, "The lowest finger corner must stay this far above the table", low=0.0)
    max_approach_tilt: float = setting(0.5236, "Largest angle between the approach axis and straight down", low=0.0,
                                     high=1.5708)
    vertical_approach: bool = setting(
        True,
        "Approach straight down with the jaw axis levelled (the planar, top-down grasps Dex-Net labels); "
        "false: approach along the camera's optical axis",
    )
    approach_distance: float = setting(0.10, "Pre-grasp offset back along the approach axis", low=0.0, dynamic=True)
    lift_height: float = setting(0.15, "Straight-up lift after closing", low=0.0, dynamic=True)
    drop_position: tuple = setting((0.30, -0.20, 0.20), "Where the object is transported, shaken and released",
                                   dynamic=True)
    open_fully: bool = setting(
        True,
        "Open the jaws to their full stroke before the approach: the opening Dex-Net's collision labels assume "
        "(a narrower opening puts the fingers where the labels never checked); false: grasp width + jaw_clearance",
        dynamic=True,
    )
    jaw_clearance: float = setting(0.005, "With open_fully false: extra opening on each side of the grasp width",
                                  low=0.0, dynamic=True)
    grip_force: float = setting(20.0, "Closing force in newtons (YuMi smart gripper: at most 20 N)", low=0.1,
                               dynamic=True)
    approach_speed: float = setting(0.05, "TCP speed from pre-grasp to grasp, m/s", low=1e-4, dynamic=True)
    lift_speed: float = setting(0.10, "TCP speed while lifting, m/s", low=1e-4, dynamic=True)
    transport_speed: float = setting(0.20, "TCP speed for free motion (to pre-grasp, to the drop pose), m/s",
                                    low=1e-4, dynamic=True)
    max_angular_speed: float = setting(1.5, "TCP reorientation speed limit, rad/s", low=1e-3, dynamic=True)
    shake_cycles: int = setting(2, "Back-and-forth shakes at the drop pose before release (0: no shake)", low=0,
                                high=20, dynamic=True)
    shake_angle: float = setting(0.25, "Shake rotation about the jaw axis, radians each way", low=0.0, high=1.5708,
                                  dynamic=True)
    shake_height: float = setting(0.03, "Shake vertical travel each way", low=0.0, dynamic=True)
    shake_speed: float = setting(0.30, "TCP speed while shaking, m/s", low=1e-4, dynamic=True)
    arm_reach: float = setting(0.559, "Largest shoulder-to-flange distance (IRB 14000 datasheet reach)", low=0.01)
    shoulder_left: tuple = setting((0.05355, 0.0725, 0.41492), "Left arm's first joint in the base frame")
    shoulder_right: tuple = setting((0.05355, -0.0725, 0.41492), "Right arm's first joint in the base frame")
    tool_offset_translation: tuple = setting((0.0, 0.0, 0.1142), "TCP (between the jaw tips) in the flange frame")
    tool_offset_quaternion_xyzw: tuple = setting((0.0, 0.0, 0.0, 1.0), "TCP orientation in the flange frame")
    wrist_reference_xyzw: tuple = setting(
        (1.0, 0.0, 0.0, 0.0), "TCP orientation the wrist turns the short way from (default: pointing down)"
    )

    def __post_init__(self) -> None:
        if self.default_arm not in ARMS:
            raise ValueError(f"default_arm must be 'left' or 'right', got {self.default_arm!r}")
        for name in (
            "workspace_min",
            "workspace_max",
            "drop_position",
            "shoulder_left",
            "shoulder_right",
            "tool_offset_translation",
        ):
            _check_vector(name, getattr(self, name), 3)
        for name in ("tool_offset_quaternion_xyzw", "wrist_reference_xyzw"):
            _check_vector(name, getattr(self, name), 4)
        if not np.all(np.less(self.workspace_min, self.workspace_max)):
            raise ValueError(f"workspace_min {self.workspace_min} must be below workspace_max {self.workspace_max}")
        for name in (
            "approach_speed",
            "lift_speed",
            "transport_speed",
            "max_angular_speed",
            "shake_speed",
            "grip_force",
            "arm_reach",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.shake_cycles < 0:
            raise ValueError(f"shake_cycles must be >= 0, got {self.shake_cycles}")

    def tool_offset(self) -> ToolOffset:
        return ToolOffset.from_parameters(self.tool_offset_translation, self.tool_offset_quaternion_xyzw)

    def shoulder(self, arm: str) -> np.ndarray:
        return np.asarray(self.shoulder_left if arm == "left" else self.shoulder_right, dtype=float)


def _check_vector(name: str, value: Any, size: int) -> None:
    array = np.asarray(value, dtype=float)
    if array.shape != (size,) or not np.isfinite(array).all():
        raise ValueError(f"{name} must be {size} finite numbers, got {value!r}")


def load_parameters(path: str | Path, node_name: str = "yumi_bridge") -> dict[str, Any]:
    """The flat `ros__parameters` mapping of `node_name` from a ROS 2 parameter file (config/yumi_bridge.yaml)."""
    path = Path(path)
    data = read_yaml_mapping(path, "parameter")
    try:
        params = data[node_name]["ros__parameters"]
    except (KeyError, TypeError):
        raise ValueError(f"{path}: no '{node_name}: ros__parameters:' section") from None
    if not isinstance(params, dict):
        raise ValueError(f"{path}: '{node_name}.ros__parameters' must be a mapping")
    return params


class GraspRefusedError(Exception):
    """The grasp will not be executed; `status` is INVALID_INPUT, NOT_CALIBRATED or UNSAFE."""

    def __init__(self, status: str, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.status = status
        self.reasons = reasons


@dataclass(frozen=True)
class Waypoint:
    """One step: move the TCP to `pose` (base frame) at `speed`, then run the gripper command."""

    phase: str  # ExecuteGrasp feedback phase
    name: str
    pose: np.ndarray  # 4x4 TCP pose in the base frame
    speed: float  # m/s
    gripper: str = "none"  # "none", "open" (to gripper_width) or "close" (with gripper_force)
    gripper_width: float = 0.0
    gripper_force: float = 0.0


@dataclass(frozen=True)
class MotionPlan:
    arm: str
    grasp_pose: np.ndarray  # TCP pose of the grasp in the base frame, wrist normalised
    width: float  # grasp width from the planner
    open_width: float  # jaw opening before closing
    waypoints: list[Waypoint]

    def describe(self) -> str:
        position = np.round(self.grasp_pose[:3, 3], 3).tolist()
        return (
            f"{len(self.waypoints)} waypoints with the {self.arm} arm: grasp at {position} m (base frame), "
            f"jaws open to {self.open_width * 1000:.1f} mm for a {self.width * 1000:.1f} mm grasp"
        )


@dataclass(frozen=True)
class ExecutionOutcome:
    """What a backend reports after executing a plan."""

    success: bool  # the object was held through lift and transport (and shaking, where the plan shakes)
    cause: str  # "" on success, else "collision", "missed", "slipped", "dropped_while_shaking" or "canceled"
    message: str
    final_width: float  # jaw opening before release, metres (0 when not measured)
    duration: float  # seconds of execution (simulated seconds for the sim backend)
    phases: list[str] = field(default_factory=list)  # phases entered, in order


def short_way_angle(angle: float, reference: float = 0.0) -> float:
    """The equivalent jaw angle (angle + k pi) closest to `reference`, in (reference - pi/2, reference + pi/2]."""
    return reference + math.pi / 2 - (math.pi / 2 - (angle - reference)) % math.pi


def short_way_rotation(rotation: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Of a TCP orientation and its half turn about the approach axis (the same parallel-jaw grasp), the one
    nearer to `reference`, so the wrist turns the short way."""
    flipped = rotation @ np.diag([-1.0, -1.0, 1.0])

    def distance(candidate: np.ndarray) -> float:
        return Rotation.from_matrix(reference.T @ candidate).magnitude()

    return rotation if distance(rotation) <= distance(flipped) else flipped


def level_grasp(pose: np.ndarray) -> np.ndarray:
    """The same grasp centre approached straight down (-z), jaw axis projected onto the table plane.

    Dex-Net's labels assume a top-down approach with the jaw axis parallel to the table; following a camera
    tilted 10-20 deg instead drags the fingertips a centimetre sideways over a 4 cm tall object.
    """
    axis = pose[:3, 0] * np.array([1.0, 1.0, 0.0])
    if np.linalg.norm(axis) < 1e-6:  # jaw axis vertical: nothing to level (check_approach refuses such poses)
        return pose.copy()
    x = axis / np.linalg.norm(axis)
    z = np.array([0.0, 0.0, -1.0])
    levelled = pose.copy()
    levelled[:3, :3] = np.column_stack([x, np.cross(z, x), z])
    return levelled


def build_waypoints(
    grasp_pose: np.ndarray, open_width: float, config: MotionConfig, release_width: float
) -> list[Waypoint]:
    approach_axis = grasp_pose[:3, 2]
    pre = grasp_pose.copy()
    pre[:3, 3] -= config.approach_distance * approach_axis
    lift = grasp_pose.copy()
    lift[2, 3] += config.lift_height
    drop = grasp_pose.copy()
    drop[:3, 3] = config.drop_position
    waypoints = [
        Waypoint("pre_grasp", "pre_grasp", pre, config.transport_speed, "open", open_width),
        Waypoint("approach", "approach", grasp_pose, config.approach_speed),
        Waypoint("close", "close", grasp_pose, config.approach_speed, "close", 0.0, config.grip_force),
        Waypoint("lift", "lift", lift, config.lift_speed),
        Waypoint("transport", "transport", drop, config.transport_speed),
    ]
    for k in range(2 * config.shake_cycles):
        sign = 1.0 if k % 2 == 0 else -1.0
        shake = drop.copy()
        shake[:3, :3] = drop[:3, :3] @ Rotation.from_rotvec([sign * config.shake_angle, 0, 0]).as_matrix()
        shake[2, 3] += sign * config.shake_height
        waypoints.append(Waypoint("transport", f"shake_{k + 1}", shake, config.shake_speed))
    if config.shake_cycles:
        waypoints.append(Waypoint("transport", "shake_end", drop, config.shake_speed))
    waypoints.append(Waypoint("release", "release", drop, config.transport_speed, "open", release_width))
    return waypoints


def plan_grasp_motion(
    camera_grasp: np.ndarray,
    width: float,
    q_value: float,
    arm: str,
    config: MotionConfig,
    extrinsics: CameraExtrinsics,
    gripper: Gripper | None = None,
) -> MotionPlan:
    """Waypoints for a grasp given as a TCP pose in the camera optical frame; raises GraspRefusedError.

    An empty `arm` means the configured default arm, or the other arm when only that one can reach the grasp.
    `gripper` (default: the YuMi smart gripper) sets the jaw stroke and the finger boxes the table clearance is
    checked with: pass the gripper the robot carries, the one the planner sampled with.
    """
    chosen_by_caller = bool(arm)
    arm = arm or config.default_arm
    problems = check_input(camera_grasp, width, q_value, arm)
    if problems:
        raise GraspRefusedError(INVALID_INPUT, problems)
    if not extrinsics.calibrated:
        where = f" ({extrinsics.source})" if extrinsics.source else ""
        raise GraspRefusedError(NOT_CALIBRATED, [f"camera extrinsics are not calibrated{where}: refusing to move"])
    gripper = gripper or Gripper()
    camera_axis_grasp = grasp_in_base(extrinsics, camera_grasp)
    base_grasp = level_grasp(camera_axis_grasp) if config.vertical_approach else camera_axis_grasp
    reference = Rotation.from_quat(config.wrist_reference_xyzw).as_matrix()
    base_grasp[:3, :3] = short_way_rotation(base_grasp[:3, :3], reference)
    open_width = gripper.max_width
    if not config.open_fully:
        open_width = float(min(width + 2 * config.jaw_clearance, gripper.max_width))
    waypoints = build_waypoints(base_grasp, open_width, config, gripper.max_width)
    reach = [check_reach(waypoints, arm, config)]
    if reach[0] and not chosen_by_caller:  # the other arm takes over, or its reason is reported too
        other = ARMS[1 - ARMS.index(arm)]
        other_reach = check_reach(waypoints, other, config)
        arm, reach = (other, []) if other_reach is None else (arm, [*reach, other_reach])

    reasons = [
        reason
        for reason in (
            check_quality(q_value, config.min_q, config.allow_low_q),
            check_jaw_width(width, gripper),
            check_approach(camera_axis_grasp, config),  # a wrong extrinsic shows as a tilted camera axis
            check_workspace(waypoints, config),
            check_table_clearance(waypoints, open_width, config, gripper),
            *reach,
        )
        if reason
    ]
    if reasons:
        raise GraspRefusedError(UNSAFE, reasons)
    return MotionPlan(arm, base_grasp, float(width), open_width, waypoints)


def camera_grasp_from_pose(position: Any, quaternion_xyzw: Any) -> np.ndarray:
    """The 4x4 grasp pose from message fields; raises GraspRefusedError(INVALID_INPUT) if they are not a pose."""
    try:
        return pose_matrix(position, quaternion_xyzw)
    except ValueError as err:
        raise GraspRefusedError(INVALID_INPUT, [f"grasp pose: {err}"]) from None
