"""Frames and motion planning: conversions, the short-way wrist, waypoints and every safety refusal."""

from dataclasses import replace

import numpy as np
import pytest
import yaml
from scipy.spatial.transform import Rotation
from yumi_scenes import BASE_AS_CAMERA, top_down_grasp

from gqcnn_core.camera import CameraIntrinsics
from gqcnn_core.frames import CameraExtrinsics, load_extrinsics, pose_matrix, pose_parts
from gqcnn_core.grasp import Grasp2D
from gqcnn_core.gripper import Gripper
from gqcnn_core.paths import DEFAULT_EXTRINSICS_FILE, WORKSPACE
from gqcnn_core.settings import make_settings, setting_fields
from yumi_bridge.frames import ToolOffset, grasp_in_base, grasp_in_camera
from yumi_bridge.motion import (
    INVALID_INPUT,
    NOT_CALIBRATED,
    UNSAFE,
    GraspRefusedError,
    MotionConfig,
    camera_grasp_from_pose,
    load_parameters,
    plan_grasp_motion,
    short_way_angle,
    short_way_rotation,
)

CONFIG = MotionConfig()
YUMI = Gripper()  # the YuMi smart gripper, as config/gripper_yumi.yaml describes it
GOOD = top_down_grasp(0.40, 0.0, 0.035)


def refusal(camera_grasp=GOOD, width=0.035, q=0.9, arm="", config=CONFIG, extrinsics=BASE_AS_CAMERA):
    with pytest.raises(GraspRefusedError) as info:
        plan_grasp_motion(camera_grasp, width, q, arm, config, extrinsics)
    return info.value


# ---- frames ---------------------------------------------------------------------------------------------------------


def test_shipped_extrinsics_load_and_are_marked_uncalibrated():
    extrinsics = load_extrinsics(DEFAULT_EXTRINSICS_FILE)
    assert not extrinsics.calibrated
    # The placeholder looks straight down from 0.7 m: the optical axis points down the base z axis.
    np.testing.assert_allclose(extrinsics.base_camera[:3, 2], [0, 0, -1], atol=1e-6)
    assert extrinsics.camera_frame == "camera_depth_optical_frame"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("calibrated: true\ntranslation: [0, 0, 1]\n", "missing keys: quaternion_xyzw"),
        ("calibrated: yes please\ntranslation: [0, 0, 1]\nquaternion_xyzw: [0, 0, 0, 1]\n", "must be true or false"),
        ("calibrated: true\ntranslation: [0, 1]\nquaternion_xyzw: [0, 0, 0, 1]\n", "translation needs 3 numbers"),
        ("calibrated: true\ntranslation: [0, 0, 1]\nquaternion_xyzw: [0, 0, 0, 3]\n", "unit length"),
        ("[1, 2", "not valid YAML"),
    ],
)
def test_bad_extrinsics_files_name_the_problem(tmp_path, content, reason):
    path = tmp_path / "extrinsics.yaml"
    path.write_text(content)
    with pytest.raises(ValueError, match=reason):
        load_extrinsics(path)
    with pytest.raises(FileNotFoundError):
        load_extrinsics(tmp_path / "missing.yaml")


def test_grasp_pose_round_trips_between_camera_and_base():
    camera = CameraIntrinsics.primesense()
    extrinsics = CameraExtrinsics.from_pose([0.41, 0.02, 0.68], [0.70710678, -0.70710678, 0.01, 0.0], True)
    grasp = Grasp2D((350.0, 210.0), 0.7, 0.64, 0.03)
    camera_grasp = pose_matrix(*grasp.pose(camera))
    base_grasp = grasp_in_base(extrinsics, camera_grasp)
    # The grasp centre is the deprojected pixel, mapped by the extrinsic.
    expected = extrinsics.base_camera[:3, :3] @ grasp.position(camera) + extrinsics.base_camera[:3, 3]
    np.testing.assert_allclose(base_grasp[:3, 3], expected, atol=1e-12)
    back = grasp_in_camera(extrinsics, base_grasp)
    np.testing.assert_allclose(back, camera_grasp, atol=1e-12)
    position, quaternion = pose_parts(back)
    again = Grasp2D.from_pose(position, quaternion, grasp.width, camera)
    np.testing.assert_allclose(again.center, grasp.center, atol=1e-9)
    assert again.angle == pytest.approx(grasp.angle)


def test_tool_offset_puts_the_flange_behind_the_finger_tips():
    tool = ToolOffset()
    flange = tool.flange_pose(GOOD)
    np.testing.assert_allclose(flange[:3, 3], GOOD[:3, 3] + [0, 0, 0.1142], atol=1e-12)  # straight above
    np.testing.assert_allclose(tool.tcp_pose(flange), GOOD, atol=1e-12)


# ---- wrist ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("angle", "reference", "expected"),
    [
        (0.3, 0.0, 0.3),
        (3.0, 0.0, 3.0 - np.pi),  # 172 deg is the same grasp as -8 deg: turn 8 deg, not 172
        (-2.0, 0.0, -2.0 + np.pi),
        (np.pi / 2, 0.0, np.pi / 2),  # the boundary belongs to the upper end
        (0.0, 2.0, np.pi),  # measured from a wrist already turned 2 rad
    ],
)
def test_short_way_angle(angle, reference, expected):
    assert short_way_angle(angle, reference) == pytest.approx(expected)


def test_short_way_rotation_flips_a_grasp_more_than_a_quarter_turn_away():
    reference = np.diag([1.0, -1.0, -1.0])  # pointing down, jaws along base x
    for yaw, flips in ((0.4, False), (1.4, False), (1.8, True), (-2.9, True)):
        rotation = top_down_grasp(0, 0, 0, yaw)[:3, :3]
        chosen = short_way_rotation(rotation, reference)
        turn = Rotation.from_matrix(reference.T @ chosen).magnitude()
        assert turn <= np.pi / 2 + 1e-9
        np.testing.assert_allclose(chosen[:3, 2], rotation[:3, 2])  # same approach
        np.testing.assert_allclose(chosen[:3, 0], -rotation[:3, 0] if flips else rotation[:3, 0], atol=1e-12)


def test_planned_grasp_pose_is_wrist_normalised():
    plan = plan_grasp_motion(top_down_grasp(0.4, 0.0, 0.035, yaw=2.8), 0.03, 0.9, "", CONFIG, BASE_AS_CAMERA)
    jaw_axis = plan.grasp_pose[:3, 0]
    assert abs(np.degrees(np.arctan2(jaw_axis[1], jaw_axis[0]))) == pytest.approx(np.degrees(np.pi - 2.8))


def test_grasps_from_a_tilted_camera_are_approached_straight_down_unless_configured():
    tilt = np.eye(4)
    tilt[:3, :3] = Rotation.from_euler("y", 15, degrees=True).as_matrix()
    camera_axis = tilt @ top_down_grasp(0.4, 0.0, 0.035, yaw=0.3)  # what a 15 deg tilted camera's z gives
    camera_axis[:3, 3] = 0.4, 0.0, 0.035
    camera_grasp = grasp_in_camera(BASE_AS_CAMERA, camera_axis)
    levelled = plan_grasp_motion(camera_grasp, 0.03, 0.9, "", CONFIG, BASE_AS_CAMERA).grasp_pose
    np.testing.assert_allclose(levelled[:3, 2], [0.0, 0.0, -1.0], atol=1e-12)  # straight down
    assert abs(levelled[2, 0]) < 1e-12  # jaw axis parallel to the table
    np.testing.assert_allclose(levelled[:3, 3], camera_axis[:3, 3])  # same grasp centre
    along_camera = plan_grasp_motion(camera_grasp, 0.03, 0.9, "", replace(CONFIG, vertical_approach=False),
                                     BASE_AS_CAMERA).grasp_pose
    np.testing.assert_allclose(along_camera[:3, 2], camera_axis[:3, 2], atol=1e-12)


# ---- waypoints ------------------------------------------------------------------------------------------------------


def test_waypoints_follow_the_protocol():
    plan = plan_grasp_motion(GOOD, 0.035, 0.9, "left", CONFIG, BASE_AS_CAMERA)
    names = [w.name for w in plan.waypoints]
    assert names == [
        "pre_grasp",
        "approach",
        "close",
        "lift",
        "transport",
        "shake_1",
        "shake_2",
        "shake_3",
        "shake_4",
        "shake_end",
        "release",
    ]
    assert [w.phase for w in plan.waypoints][:5] == ["pre_grasp", "approach", "close", "lift", "transport"]
    pre, approach, close, lift, transport = plan.waypoints[:5]
    np.testing.assert_allclose(pre.pose[:3, 3], GOOD[:3, 3] + [0, 0, CONFIG.approach_distance])  # above, on axis
    assert pre.gripper == "open" and pre.gripper_width == YUMI.max_width  # as the labels assume
    np.testing.assert_allclose(approach.pose, GOOD)
    assert close.gripper == "close" and close.gripper_force == CONFIG.grip_force
    np.testing.assert_allclose(lift.pose[:3, 3], GOOD[:3, 3] + [0, 0, CONFIG.lift_height])
    np.testing.assert_allclose(transport.pose[:3, 3], CONFIG.drop_position)
    assert plan.waypoints[-1].gripper == "open" and plan.waypoints[-1].gripper_width == YUMI.max_width
    assert plan.arm == "left" and "11 waypoints with the left arm" in plan.describe()


def test_no_shaking_when_disabled():
    plan = plan_grasp_motion(GOOD, 0.035, 0.9, "", replace(CONFIG, shake_cycles=0), BASE_AS_CAMERA)
    assert [w.name for w in plan.waypoints][-2:] == ["transport", "release"]


def test_narrow_opening_keeps_the_clearance_but_never_exceeds_the_stroke():
    narrow = replace(CONFIG, open_fully=False)
    assert plan_grasp_motion(GOOD, 0.03, 0.9, "", narrow, BASE_AS_CAMERA).open_width == pytest.approx(
        0.03 + 2 * CONFIG.jaw_clearance)
    assert plan_grasp_motion(GOOD, 0.048, 0.9, "", narrow, BASE_AS_CAMERA).open_width == YUMI.max_width


# ---- refusals -------------------------------------------------------------------------------------------------------


def test_uncalibrated_camera_is_refused():
    uncalibrated = CameraExtrinsics(np.eye(4), False, source="config/camera_extrinsics.yaml")
    refused = refusal(extrinsics=uncalibrated)
    assert refused.status == NOT_CALIBRATED
    assert "not calibrated (config/camera_extrinsics.yaml)" in str(refused)


def test_low_quality_is_refused_unless_allowed():
    refused = refusal(q=0.2, config=replace(CONFIG, min_q=0.5))
    assert refused.status == UNSAFE and "q=0.200 is below min_q=0.500" in str(refused)
    plan = plan_grasp_motion(GOOD, 0.035, 0.2, "", replace(CONFIG, min_q=0.5, allow_low_q=True), BASE_AS_CAMERA)
    assert plan.width == 0.035


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"width": 0.062}, "grasp width 62.0 mm exceeds the gripper's largest opening 50.0 mm"),
        ({"camera_grasp": top_down_grasp(0.80, 0.0, 0.035)}, "outside the workspace box"),
        ({"camera_grasp": top_down_grasp(0.40, 0.0, 0.001)}, "a fingertip would be"),
        ({"camera_grasp": top_down_grasp(0.55, 0.40, 0.035), "arm": "right"}, "out of reach of the right arm"),
        (
            {
                "camera_grasp": top_down_grasp(0.40, 0.0, 0.035)
                @ pose_matrix([0, 0, 0], Rotation.from_euler("x", 1.2).as_quat())
            },
            "deg from straight down",
        ),
    ],
)
def test_unsafe_goals_are_refused_with_a_reason(kwargs, reason):
    refused = refusal(**kwargs)
    assert refused.status == UNSAFE
    assert reason in str(refused)


def test_empty_arm_falls_back_to_the_arm_that_reaches():
    far_left = top_down_grasp(0.40, 0.30, 0.035)
    assert plan_grasp_motion(far_left, 0.035, 0.9, "", CONFIG, BASE_AS_CAMERA).arm == "left"
    assert plan_grasp_motion(GOOD, 0.035, 0.9, "", CONFIG, BASE_AS_CAMERA).arm == CONFIG.default_arm
    with pytest.raises(GraspRefusedError, match="out of reach of the right arm"):
        plan_grasp_motion(far_left, 0.035, 0.9, "right", CONFIG, BASE_AS_CAMERA)
    with pytest.raises(GraspRefusedError, match=r"right arm.*; .*left arm"):  # neither reaches: both reasons
        plan_grasp_motion(top_down_grasp(0.55, 0.40, 0.035), 0.035, 0.9, "", CONFIG, BASE_AS_CAMERA)


def test_the_given_gripper_sets_the_stroke_and_the_table_clearance():
    # Tilted 0.4 rad about the approach's normal, the outer finger corner dips x sin(0.4) below the TCP: 12.8 mm
    # for the YuMi's 8 mm fingers (clear at 16 mm), 17.5 mm for 20 mm wide fingers (into the table).
    tilted = top_down_grasp(0.40, 0.0, 0.016) @ pose_matrix([0, 0, 0], Rotation.from_euler("y", 0.4).as_quat())
    along_camera = replace(CONFIG, vertical_approach=False)
    assert plan_grasp_motion(tilted, 0.035, 0.9, "", along_camera, BASE_AS_CAMERA, YUMI)
    thick = replace(YUMI, name="thick", finger_width=0.02)
    with pytest.raises(GraspRefusedError, match="a fingertip would be"):
        plan_grasp_motion(tilted, 0.035, 0.9, "", along_camera, BASE_AS_CAMERA, thick)
    # A wider stroke accepts a wider grasp and opens (and releases) to it.
    wide = replace(YUMI, name="wide", max_width=0.08, palm_width=0.1)
    refusal(width=0.07)
    plan = plan_grasp_motion(GOOD, 0.07, 0.9, "", CONFIG, BASE_AS_CAMERA, wide)
    assert plan.open_width == 0.08 and plan.waypoints[-1].gripper_width == 0.08
    with pytest.raises(GraspRefusedError, match=r"below the gripper's smallest opening 10.0 mm \(wide\)"):
        plan_grasp_motion(GOOD, 0.005, 0.9, "", CONFIG, BASE_AS_CAMERA, replace(wide, min_width=0.01))


def test_every_unsafe_reason_is_reported_at_once():
    refused = refusal(camera_grasp=top_down_grasp(0.80, 0.0, 0.035), width=0.07, q=0.1,
                      config=replace(CONFIG, min_q=0.5))
    assert len(refused.reasons) >= 3


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"width": float("nan")}, "width must be a non-negative number"),
        ({"width": -0.01}, "width must be a non-negative number"),
        ({"q": float("nan")}, "q_value must be a probability in [0, 1], got nan"),
        ({"q": 5.0}, "q_value must be a probability in [0, 1], got 5.0"),  # issue 16: executed before
        ({"q": -3.0}, "q_value must be a probability in [0, 1], got -3.0"),
        ({"arm": "middle"}, "arm must be 'left', 'right' or empty"),
    ],
)
def test_invalid_goals_are_refused(kwargs, reason):
    refused = refusal(**kwargs)
    assert refused.status == INVALID_INPUT and reason in str(refused)


@pytest.mark.parametrize("quaternion", [[0, 0, 0, 0], [float("nan"), 0, 0, 1], [0, 0, 0, 2]])
def test_unreadable_poses_are_invalid_input(quaternion):
    with pytest.raises(GraspRefusedError) as info:
        camera_grasp_from_pose([0.0, 0.0, 0.6], quaternion)
    assert info.value.status == INVALID_INPUT and "grasp pose" in str(info.value)


# ---- configuration --------------------------------------------------------------------------------------------------


def test_shipped_parameter_file_matches_the_declared_parameters():
    from yumi_bridge.execute_grasp_node import settings_classes
    from yumi_bridge.rws import RwsSettings
    from yumi_bridge.sim import SimSettings

    params = load_parameters(WORKSPACE / "config" / "yumi_bridge.yaml")
    declared = {f.name for cls in settings_classes() for f in setting_fields(cls)}
    assert set(params) == declared  # nothing undocumented, no typos

    def from_file(cls):  # as the node reads them: strict types, ranges, choices
        return make_settings(cls, {f.name: params[f.name] for f in setting_fields(cls)})

    assert from_file(MotionConfig) == MotionConfig()  # the file documents the defaults
    assert from_file(RwsSettings) == RwsSettings()
    assert from_file(SimSettings) == SimSettings()


def test_bad_configuration_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="default_arm must be 'left' or 'right'"):
        MotionConfig(default_arm="both")
    with pytest.raises(ValueError, match=r"workspace_min .* must be below workspace_max"):
        make_settings(MotionConfig, {"workspace_min": [1.0, 1.0, 1.0], "workspace_max": [0.0, 0.0, 0.0]})
    with pytest.raises(ValueError, match=r"min_q: 1.5 is outside \[0.0, 1.0\]"):
        make_settings(MotionConfig, {"min_q": 1.5})
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({"other_node": {"ros__parameters": {}}}))
    with pytest.raises(ValueError, match="no 'yumi_bridge: ros__parameters:' section"):
        load_parameters(path)
