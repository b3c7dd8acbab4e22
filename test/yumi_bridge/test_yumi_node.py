"""The execute_grasp node over real rclpy: sim and rws backends, refusals with status and message, cancel, auto mode."""

import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import yaml
from fake_rws import FakeController, FakeRwsServer
from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from ros_waits import DISCOVERY_TIMEOUT
from sensor_msgs.msg import Image
from std_srvs.srv import Trigger
from yumi_scenes import NODE_BOX, grasp_across_short_side

from dexnet_msgs.action import ExecuteGrasp
from dexnet_msgs.msg import Grasp
from gqcnn_core.paths import DEFAULT_GRIPPER_FILE
from gqcnn_planner.action_client import ThreadSafeActionClient
from gqcnn_planner.camera_tf_node import STATIC_TF_QOS
from gqcnn_planner.node_settings import SettingsError
from gqcnn_planner.ros_conversions import grasp_to_msg, image_to_depth, transform_to_matrix
from tf2_msgs.msg import TFMessage
from yumi_bridge.execute_grasp_node import SIM_BASE_FRAME, ExecuteGraspNode

Result = ExecuteGrasp.Result
EXTENTS = NODE_BOX


def start(ros, **parameters):
    overrides = [Parameter(name, value=value) for name, value in parameters.items()]
    node = ros.add(ExecuteGraspNode(context=ros.context, parameter_overrides=overrides))
    client_node = ros.add(Node("test_execute_grasp_client", context=ros.context))
    client = ThreadSafeActionClient(client_node, ExecuteGrasp, "execute_grasp")
    assert client.wait_for_server(timeout_sec=DISCOVERY_TIMEOUT)
    return node, client_node, client


def send(ros, client, goal, timeout=30.0):
    feedback = []
    handle = ros.wait(client.send_goal_async(goal, feedback_callback=lambda f: feedback.append(f.feedback.phase)))
    assert handle.accepted
    return ros.wait(handle.get_result_async(), timeout).result, feedback


def planned_grasp(node, q=0.9):
    """What a planner would send for the node's simulated scene: across the box's short side."""
    grasp = grasp_across_short_side(node.backend.scene, EXTENTS)
    return grasp_to_msg(grasp, q, node.backend.scene.camera)


def test_sim_backend_publishes_the_scene_and_executes_goals(ros, box_file):
    node, client_node, client = start(ros, backend="sim", sim_mesh_file=box_file, sim_seed=3)
    received = threading.Event()
    latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL, reliability=ReliabilityPolicy.RELIABLE)
    images = []
    client_node.create_subscription(
        Image, "/yumi_bridge/sim/depth", lambda m: (images.append(m), received.set()), latched
    )
    assert received.wait(10.0)
    np.testing.assert_array_equal(image_to_depth(images[0]), node.backend.scene.depth)

    result, feedback = send(ros, client, ExecuteGrasp.Goal(grasp=planned_grasp(node)))
    assert (result.status, result.success, result.message) == (Result.SUCCESS, True, "")
    assert 0.025 < result.final_width < 0.045
    assert feedback == ["checking", "pre_grasp", "approach", "close", "lift", "transport", "release", "done"]

    # The same scene again, with the grasp shifted off the object along its long side: a miss.
    missed = planned_grasp(node)
    missed.pose.pose.position.x += 0.08
    missed.pose.pose.position.y += 0.08
    result, _ = send(ros, client, ExecuteGrasp.Goal(grasp=missed))
    assert result.status == Result.GRASP_FAILED and not result.success
    assert result.message.split(":")[0] in ("missed", "collision")

    dry, feedback = send(ros, client, ExecuteGrasp.Goal(grasp=planned_grasp(node), arm="left", dry_run=True))
    assert dry.status == Result.SUCCESS and not dry.success
    assert dry.message.startswith("dry run, nothing moved: 11 waypoints with the left arm")
    assert feedback == ["checking", "done"]


def test_bad_goals_are_rejected_or_end_with_a_status_and_a_message(ros, box_file):
    node, _, client = start(ros, backend="sim", sim_mesh_file=box_file, sim_seed=3, min_q=0.5)
    good = planned_grasp(node)

    low_q = planned_grasp(node, q=0.2)
    result, _ = send(ros, client, ExecuteGrasp.Goal(grasp=low_q))
    assert result.status == Result.UNSAFE and "below min_q=0.500" in result.message

    too_wide = planned_grasp(node)
    too_wide.width = 0.08
    result, _ = send(ros, client, ExecuteGrasp.Goal(grasp=too_wide))
    assert result.status == Result.UNSAFE and "exceeds the gripper's largest opening" in result.message

    # Malformed goals are rejected at once (the reason goes to the log); in auto mode they end INVALID_INPUT.
    nan_width = planned_grasp(node)
    nan_width.width = float("nan")
    no_orientation = planned_grasp(node)
    o = no_orientation.pose.pose.orientation
    o.x = o.y = o.z = o.w = 0.0
    other_frame = planned_grasp(node)
    other_frame.pose.header.frame_id = "some_other_frame"
    q_above_one = planned_grasp(node, q=5.0)
    for goal, reason in (
        (ExecuteGrasp.Goal(grasp=nan_width), "width"),
        (ExecuteGrasp.Goal(grasp=no_orientation), "unit length"),
        (ExecuteGrasp.Goal(grasp=other_frame), "'some_other_frame'"),
        (ExecuteGrasp.Goal(grasp=q_above_one), "q_value must be a probability in [0, 1], got 5.0"),
        (ExecuteGrasp.Goal(grasp=good, arm="middle"), "arm must be"),
    ):
        assert not ros.wait(client.send_goal_async(goal)).accepted
        result = node.run_goal(goal, lambda phase: None, lambda: False)
        assert result.status == Result.INVALID_INPUT and reason in result.message

    assert node._busy.acquire(blocking=False)  # a goal arriving while another runs
    try:
        result, _ = send(ros, client, ExecuteGrasp.Goal(grasp=good))
    finally:
        node._busy.release()
    assert result.status == Result.ROBOT_ERROR and result.message.startswith("busy")

    result, _ = send(ros, client, ExecuteGrasp.Goal(grasp=good))  # the node is still fine
    assert result.status == Result.SUCCESS


def test_the_gripper_file_sets_the_stroke_the_node_checks_and_the_backend_uses(ros, box_file, tmp_path):
    # One gripper for everything: the planner's gripper file, not separate executor width parameters.
    gripper = yaml.safe_load(DEFAULT_GRIPPER_FILE.read_text())
    wide = tmp_path / "wide.yaml"
    wide.write_text(yaml.safe_dump({**gripper, "name": "wide_test_gripper", "max_width": 0.085, "palm_width": 0.11}))
    node, _, client = start(ros, backend="sim", sim_mesh_file=box_file, sim_seed=3, gripper_file=str(wide))
    assert node.gripper.max_width == 0.085 and node.backend.gripper is node.gripper
    goal = planned_grasp(node)
    goal.width = 0.07  # refused by the default YuMi gripper (test_bad_goals_...), within this one's stroke
    result, _ = send(ros, client, ExecuteGrasp.Goal(grasp=goal, dry_run=True))
    assert result.status == Result.SUCCESS and "jaws open to 85.0 mm" in result.message
    goal.width = 0.09
    result, _ = send(ros, client, ExecuteGrasp.Goal(grasp=goal))
    assert result.status == Result.UNSAFE and "largest opening 85.0 mm (wide_test_gripper)" in result.message


def test_a_bad_gripper_file_stops_the_node_with_the_reason(ros, tmp_path):
    with pytest.raises(SettingsError, match=r"gripper_file: .*nowhere\.yaml"):
        ExecuteGraspNode(context=ros.context, parameter_overrides=[
            Parameter("gripper_file", value=str(tmp_path / "nowhere.yaml"))])


def test_cancel_during_the_approach(ros, box_file):
    node, _, client = start(ros, backend="sim", sim_mesh_file=box_file, sim_seed=3, approach_speed=0.0005)
    approaching = threading.Event()
    handle = ros.wait(
        client.send_goal_async(
            ExecuteGrasp.Goal(grasp=planned_grasp(node)),
            feedback_callback=lambda f: f.feedback.phase == "approach" and approaching.set(),
        )
    )
    assert approaching.wait(10.0)
    started = time.monotonic()
    ros.wait(handle.cancel_goal_async())
    result = ros.wait(handle.get_result_async()).result
    assert result.status == Result.CANCELED and not result.success
    assert time.monotonic() - started < 5.0


def test_new_scene_drops_the_object_again_and_latches_its_camera_pose_on_tf_static(ros, box_file):
    node, client_node, _ = start(ros, backend="sim", sim_mesh_file=box_file, sim_seed=3)
    assert "below this are refused" in node.describe_parameter("min_q").description
    assert node.describe_parameter("sim_seed").description.endswith("[read-only]")  # every parameter says what
    assert not node.has_parameter("rws_password")  # only the selected backend's parameters are declared
    transforms, received = [], threading.Semaphore(0)
    client_node.create_subscription(  # joins after the first scene's message: transient local still delivers it
        TFMessage, "/tf_static", lambda m: (transforms.extend(m.transforms), received.release()), STATIC_TF_QOS
    )
    assert received.acquire(timeout=10.0)
    first = node.backend.scene
    (transform,) = transforms
    assert (transform.header.frame_id, transform.child_frame_id) == (SIM_BASE_FRAME, first.camera.frame_id)
    assert (SIM_BASE_FRAME, first.camera.frame_id) == ("yumi_base_link", "camera_depth_optical_frame")  # the TF node's
    np.testing.assert_allclose(transform_to_matrix(transform.transform), first.world_camera, atol=1e-9)

    service = client_node.create_client(Trigger, "/yumi_bridge/sim/new_scene")
    assert service.wait_for_service(timeout_sec=DISCOVERY_TIMEOUT)
    answer = ros.wait(service.call_async(Trigger.Request()), 60.0)  # a drop and settle: seconds on a busy CPU
    assert answer.success and answer.message.startswith("seed 4")
    assert not np.array_equal(node.backend.scene.world_object, first.world_object)
    assert received.acquire(timeout=10.0)  # the new scene's camera, latched again
    second = node.backend.scene
    assert not np.allclose(second.world_camera, first.world_camera)  # the sim samples a camera pose per scene
    np.testing.assert_allclose(transform_to_matrix(transforms[-1].transform), second.world_camera, atol=1e-9)


def test_auto_mode_executes_published_grasps(ros, box_file):
    node, client_node, _ = start(ros, backend="sim", sim_mesh_file=box_file, sim_seed=3, auto_grasp_topic="grasps")
    publisher = client_node.create_publisher(Grasp, "/grasps", 1)
    grasp = planned_grasp(node)
    deadline = time.monotonic() + 15.0
    while node.last_auto_result is None and time.monotonic() < deadline:
        publisher.publish(grasp)
        time.sleep(0.2)
    assert node.last_auto_result is not None
    assert node.last_auto_result.status == Result.SUCCESS


def write_extrinsics(path, calibrated):
    path.write_text(
        yaml.safe_dump(
            {
                "calibrated": calibrated,
                "translation": [0.40, 0.0, 0.70],
                "quaternion_xyzw": [0.70710678, -0.70710678, 0.0, 0.0],
            }
        )
    )
    return str(path)


def camera_grasp(x=0.0, y=0.0, depth=0.665, q=0.9):
    """A grasp straight below the (downward-looking) camera; base z = 0.70 - depth."""
    pose = PoseStamped()
    pose.header.frame_id = "camera_depth_optical_frame"
    pose.pose.position.x, pose.pose.position.y, pose.pose.position.z = x, y, depth
    pose.pose.orientation.w = 1.0
    return Grasp(pose=pose, q_value=q, width=0.035)


def test_rws_backend_executes_through_the_controller(ros, tmp_path):
    controller = FakeController(password="pw-for-the-test")
    server = FakeRwsServer(controller)
    try:
        _, _, client = start(
            ros,
            backend="rws",
            rws_address=server.url,
            rws_password="pw-for-the-test",
            rws_poll_interval=0.001,
            extrinsics_file=write_extrinsics(tmp_path / "e.yaml", True),
        )
        result, feedback = send(ros, client, ExecuteGrasp.Goal(grasp=camera_grasp(), arm="left"))
        assert (result.status, result.success) == (Result.SUCCESS, True)
        assert result.final_width == pytest.approx(0.035)
        assert feedback == ["checking", "pre_grasp", "approach", "close", "lift", "transport", "release", "done"]
        targets = [r for r in controller.requests if "T_ROB_L/DexnetGrasp/rTarget" in r.path]
        assert len(targets) == 11
        # The approach target: finger tips at base (0.40, 0, 0.035), flange 114.2 mm above, tool pointing down.
        assert targets[1].body.startswith("value=[[400.00,0.00,149.20],")

        controller.grip_width_mm = 0.0
        result, _ = send(ros, client, ExecuteGrasp.Goal(grasp=camera_grasp()))
        assert result.status == Result.GRASP_FAILED and result.message.startswith("missed:")

        controller.fail_command = int(controller.tasks["T_ROB_R"]["nDone"]) + 1
        controller.grip_width_mm = 35.0
        result, _ = send(ros, client, ExecuteGrasp.Goal(grasp=camera_grasp()))
        assert result.status == Result.ROBOT_ERROR and "RAPID reported error 50050" in result.message
    finally:
        server.stop()
    result, _ = send(ros, client, ExecuteGrasp.Goal(grasp=camera_grasp()))  # the controller is gone
    assert result.status == Result.ROBOT_ERROR and "no answer from the robot controller" in result.message


def test_rws_cancel_while_the_controller_does_not_answer_ends_canceled(ros, tmp_path):
    controller = FakeController(password="pw-for-the-test", stall=3.0)  # every answer held back 3 s
    server = FakeRwsServer(controller)
    try:
        _, _, client = start(ros, backend="rws", rws_address=server.url, rws_password="pw-for-the-test",
                             rws_timeout=5.0, extrinsics_file=write_extrinsics(tmp_path / "e.yaml", True))
        checking = threading.Event()
        handle = ros.wait(client.send_goal_async(
            ExecuteGrasp.Goal(grasp=camera_grasp()),
            feedback_callback=lambda f: f.feedback.phase == "checking" and checking.set()))
        assert checking.wait(10.0)
        time.sleep(0.3)  # the first request to the controller is in flight
        started = time.monotonic()
        ros.wait(handle.cancel_goal_async())
        result = ros.wait(handle.get_result_async()).result
        assert result.status == Result.CANCELED and "controller had not answered" in result.message
        assert time.monotonic() - started < 2.0  # not the 5 s request timeout, not a ROBOT_ERROR
    finally:
        server.stop()


def test_rws_backend_refuses_without_calibration(ros, tmp_path):
    _, _, client = start(
        ros,
        backend="rws",
        rws_address="http://127.0.0.1:9",
        extrinsics_file=write_extrinsics(tmp_path / "e.yaml", False),
    )
    result, _ = send(ros, client, ExecuteGrasp.Goal(grasp=camera_grasp()))
    assert result.status == Result.NOT_CALIBRATED and "not calibrated" in result.message


def test_rws_backend_with_a_missing_extrinsics_file_refuses_with_the_reason(ros, tmp_path):
    _, _, client = start(
        ros, backend="rws", rws_address="http://127.0.0.1:9", extrinsics_file=str(tmp_path / "nowhere.yaml")
    )
    result, _ = send(ros, client, ExecuteGrasp.Goal(grasp=camera_grasp()))
    assert result.status == Result.NOT_CALIBRATED and "camera extrinsics file not found" in result.message


def test_bad_parameters_are_a_clear_start_up_error(ros):
    def refused(**parameters):
        overrides = [Parameter(name, value=value) for name, value in parameters.items()]
        with pytest.raises(SettingsError) as info:
            ExecuteGraspNode(context=ros.context, parameter_overrides=overrides)
        return str(info.value)

    assert refused(backend="gazebo") == "backend: 'gazebo' is not one of rws, sim"
    assert refused(min_q=1.5).startswith("parameter min_q")
    assert "rws_robotware" in refused(backend="rws", rws_robotware=8)
    assert "set rws_allow_insecure_http: true" in refused(backend="rws", rws_robotware=7)


def test_dynamic_parameters_apply_to_the_next_goal_and_geometry_is_read_only(ros, box_file):
    node, _, client = start(ros, backend="sim", sim_mesh_file=box_file, sim_seed=3, min_q=0.5)
    low_q = planned_grasp(node, q=0.3)
    result, _ = send(ros, client, ExecuteGrasp.Goal(grasp=low_q, dry_run=True))
    assert result.status == Result.UNSAFE
    assert node.set_parameters([Parameter("min_q", value=0.25)])[0].successful
    result, _ = send(ros, client, ExecuteGrasp.Goal(grasp=low_q, dry_run=True))
    assert result.status == Result.SUCCESS
    assert not node.set_parameters([Parameter("min_q", value=2.0)])[0].successful  # out of range: refused
    assert not node.set_parameters([Parameter("table_z", value=0.1)])[0].successful  # read-only
    assert node.config.min_q == 0.25 and node.config.table_z == 0.0


def run_node_process(*ros_args: str) -> subprocess.Popen:
    # A domain of its own (1-100, never ours), and a process group of its own to signal like a supervisor does.
    env = dict(os.environ, ROS_DOMAIN_ID=str((int(os.environ["ROS_DOMAIN_ID"]) + 37) % 100 + 1))
    return subprocess.Popen([sys.executable, "-m", "yumi_bridge.execute_grasp_node", "--ros-args", *ros_args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)


def test_main_exits_2_with_one_line_on_a_bad_parameter():
    process = run_node_process("-p", "backend:=gazebo")
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2 and "Traceback" not in stderr
    assert "invalid parameter: backend: 'gazebo' is not one of rws, sim" in stderr.strip().splitlines()[-1]


def test_main_survives_sigint_delivered_twice_to_its_process_group():
    # Issue 16: a Ctrl-C sent to the whole process group (a supervisor, a script, CI) reached the node twice and the
    # second one printed KeyboardInterrupt tracebacks, exit code -2.
    process = run_node_process("-p", "sim_camera_rate:=0.0")
    lines = []
    ready = threading.Event()

    def read() -> None:
        for line in process.stderr:
            lines.append(line)
            if "execute_grasp ready" in line:
                ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert ready.wait(60), "".join(lines)
    os.killpg(process.pid, signal.SIGINT)
    time.sleep(0.05)
    os.killpg(process.pid, signal.SIGINT)
    assert process.wait(timeout=30) == 0
    reader.join(timeout=5)
    assert not any("Traceback" in line or "KeyboardInterrupt" in line for line in lines), "".join(lines)
