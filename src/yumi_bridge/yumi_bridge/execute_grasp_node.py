"""ROS 2 node serving `execute_grasp` (dexnet_msgs/action/ExecuteGrasp) on a backend: a real YuMi (rws) or MuJoCo (sim).

A malformed goal (pose not in the camera frame or not a pose, width or q_value out of range, unknown arm) is rejected
in the goal callback with the reason in the log. Every accepted goal is checked (motion.plan_grasp_motion, with the
node's gripper and the backend's camera extrinsics) before anything moves and ends with a status and a message,
whatever goes wrong. One goal runs at a time; a goal arriving meanwhile ends at once with ROBOT_ERROR ("busy").
Cancel takes effect within a poll of the backend (backend.py).

The `backend` parameter picks the backend from backend.BACKENDS; the node only knows the Backend protocol. The
gripper (`gripper_file`, the same file the planner samples with) is one object shared by the safety checks and the
backend. A backend that renders its own scene (the sim, a backend.SceneSource) has its depth image published on
~/sim/depth (32FC1) and ~/sim/camera_info, latched and again at sim_camera_rate as a camera driver streams (a
best-effort, volatile subscriber such as the planner's only sees frames sent after it joined); remap them onto the
planner's depth topics to plan on the scene. The scene's true camera pose is latched on /tf_static (base frame
yumi_base_link, the sim's world, -> the camera optical frame; camera_tf_node's frames and QoS) with every scene, so
RViz and the planner's target_frame follow the simulated camera (the full-stack launch starts no camera_tf_node
with the sim). ~/sim/new_scene (std_srvs/Trigger) drops the object again with the next seed.

Auto mode: with auto_grasp_topic set, every dexnet_msgs/Grasp published there is executed like a goal with the
default arm (dropped with a warning while busy); results are logged.

Parameters (gqcnn_planner.node_settings): NodeSettings, MotionConfig and the selected backend's Settings. A bad value
at start, an unreadable gripper file or bad backend settings: the node logs one line and exits 2; a backend that
cannot start for another reason: exit 1. The motion parameters marked dynamic apply to the next goal when set.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header
from std_srvs.srv import Trigger

from dexnet_msgs.action import ExecuteGrasp
from dexnet_msgs.msg import Grasp
from gqcnn_core.frames import CameraExtrinsics
from gqcnn_core.gripper import Gripper, load_gripper
from gqcnn_core.paths import DEFAULT_GRIPPER_FILE
from gqcnn_planner.camera_tf_node import STATIC_TF_QOS, static_tf_message
from gqcnn_planner.node_settings import NodeStartError, SettingsError, declare_settings, run_node, setting
from gqcnn_planner.ros_conversions import depth_to_image, intrinsics_to_camera_info
from tf2_msgs.msg import TFMessage
from yumi_bridge.backend import BACKENDS, Backend, RobotError, SceneSource, backend_class, create_backend
from yumi_bridge.motion import GraspRefusedError, MotionConfig, camera_grasp_from_pose, plan_grasp_motion
from yumi_bridge.safety_checks import check_input

Result = ExecuteGrasp.Result
NODE_NAME = "yumi_bridge"  # the ROS node name (parameter files, topics) stays what it always was
SIM_BASE_FRAME = CameraExtrinsics().base_frame  # the sim's world frame is the YuMi base frame: camera_tf_node's parent


@dataclass(frozen=True)
class NodeSettings:
    """Parameters of the node itself (MotionConfig and the selected backend's Settings are declared beside them)."""

    backend: str = setting("sim", "Execution backend (sim: MuJoCo, rws: ABB YuMi over Robot Web Services)",
                           choices=tuple(BACKENDS))
    gripper_file: str = setting("", "Gripper YAML (stroke, finger and palm boxes) the robot carries, the file the "
                                    "planner samples with; empty: config/gripper_yumi.yaml")
    auto_grasp_topic: str = setting("", "Non-empty: also execute every dexnet_msgs/Grasp published on this topic")
    sim_camera_rate: float = setting(2.0, "sim: Hz at which the scene's depth and camera_info are published "
                                          "(0: once per scene)", low=0.0, high=100.0)


def settings_classes() -> list[type]:
    """Every settings dataclass whose fields can be parameters of the node (config/yumi_bridge.yaml lists them all)."""
    return [NodeSettings, MotionConfig, *(backend_class(name).Settings for name in BACKENDS)]


def load_node_gripper(gripper_file: str) -> Gripper:
    """The gripper of `gripper_file` (empty: the shipped YuMi gripper); SettingsError naming the problem."""
    try:
        return load_gripper(Path(gripper_file) if gripper_file else DEFAULT_GRIPPER_FILE)
    except (OSError, ValueError) as err:
        raise SettingsError(f"gripper_file: {err}") from None


class ExecuteGraspNode(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, **kwargs)
        self.settings = declare_settings(self, NodeSettings)
        self.config = declare_settings(self, MotionConfig, on_change=self._on_config_change)
        backend_settings = declare_settings(self, backend_class(self.settings.backend).Settings)
        self.gripper = load_node_gripper(self.settings.gripper_file)
        try:
            self.backend: Backend = create_backend(
                self.settings.backend, backend_settings, self.config, self.gripper, self.get_logger()
            )
        except ValueError as err:
            raise SettingsError(f"{self.settings.backend} backend: {err}") from None
        except (OSError, RuntimeError) as err:
            raise NodeStartError(f"{self.settings.backend} backend cannot start: {err}") from None
        self._busy = threading.Lock()
        self._group = ReentrantCallbackGroup()
        if isinstance(self.backend, SceneSource):
            self._start_scene_camera(self.backend)
        self.server = ActionServer(
            self,
            ExecuteGrasp,
            "execute_grasp",
            execute_callback=self._execute,
            goal_callback=self._on_goal,
            cancel_callback=lambda handle: CancelResponse.ACCEPT,
            callback_group=self._group,
        )
        self.last_auto_result: Result | None = None
        if self.settings.auto_grasp_topic:
            self.create_subscription(
                Grasp, self.settings.auto_grasp_topic, self._on_auto_grasp, 1, callback_group=self._group
            )
        self.get_logger().info(
            f"execute_grasp ready ({self.backend.name} backend, gripper {self.gripper.name}, default arm "
            f"{self.config.default_arm}, min_q {self.config.min_q})"
        )

    # ---- set-up --------------------------------------------------------------------------------------------------

    def _on_config_change(self, config: MotionConfig) -> None:
        self.config = config  # a goal reads it once when it starts

    def _start_scene_camera(self, source: SceneSource) -> None:
        self._camera_lock = threading.Lock()
        latched = QoSProfile(
            depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL, reliability=ReliabilityPolicy.RELIABLE
        )
        self.depth_pub = self.create_publisher(Image, "~/sim/depth", latched)
        self.info_pub = self.create_publisher(CameraInfo, "~/sim/camera_info", latched)
        self.tf_static_pub = self.create_publisher(TFMessage, "/tf_static", STATIC_TF_QOS)
        self.create_service(Trigger, "~/sim/new_scene", self._on_new_scene, callback_group=self._group)
        self._encode_scene(source.scene)
        if self.settings.sim_camera_rate > 0:
            self.create_timer(1.0 / self.settings.sim_camera_rate, self._publish_camera)

    def _encode_scene(self, scene: Any) -> None:
        # One lock with the camera timer: a tick that read the old scene must not publish it after the new one.
        with self._camera_lock:
            # Encoded once per scene; every tick only restamps (publish serialises the message at once).
            self._camera_msgs = (depth_to_image(scene.depth, "32FC1"), intrinsics_to_camera_info(scene.camera))
            self._camera_frame = scene.camera.frame_id
        self._publish_camera()
        self._publish_camera_pose(scene)

    def _publish_camera_pose(self, scene: Any) -> None:
        """Latch the scene's true camera pose (not the believed one plans use: RViz should show the scene as it is,
        and a grasp answered in the base frame is where the object really is)."""
        true_pose = CameraExtrinsics(scene.world_camera, True, SIM_BASE_FRAME, scene.camera.frame_id, "sim scene")
        self.tf_static_pub.publish(static_tf_message(true_pose, self.get_clock().now().to_msg()))

    def _publish_camera(self) -> None:
        with self._camera_lock:
            image, info = self._camera_msgs
            image.header = info.header = Header(frame_id=self._camera_frame, stamp=self.get_clock().now().to_msg())
            self.depth_pub.publish(image)
            self.info_pub.publish(info)

    # ---- goals ---------------------------------------------------------------------------------------------------

    def _on_goal(self, goal: ExecuteGrasp.Goal) -> GoalResponse:
        """Reject a malformed goal (it would end INVALID_INPUT) at once, with the reason in the log."""
        problem = self.input_problem(goal)
        if problem:
            self.get_logger().warning(f"execute_grasp goal rejected: {problem}")
            return GoalResponse.REJECT
        return GoalResponse.ACCEPT

    def input_problem(self, goal: ExecuteGrasp.Goal) -> str:
        """What is wrong with the goal itself (frame, pose, width, q_value, arm), or ''."""
        frame, camera_frame = goal.grasp.pose.header.frame_id, self.backend.extrinsics.camera_frame
        if frame and frame != camera_frame:
            return f"grasp pose is in frame '{frame}' but the camera extrinsics are for '{camera_frame}'"
        try:
            camera_grasp = _camera_grasp(goal)
        except GraspRefusedError as refusal:
            return str(refusal)
        arm = goal.arm.strip().lower() or self.config.default_arm
        return "; ".join(check_input(camera_grasp, float(goal.grasp.width), float(goal.grasp.q_value), arm))

    def _execute(self, goal_handle: Any) -> Result:
        result = self.run_goal(
            goal_handle.request,
            lambda phase: goal_handle.publish_feedback(ExecuteGrasp.Feedback(phase=phase)),
            lambda: goal_handle.is_cancel_requested,
        )
        if result.status == Result.CANCELED:
            goal_handle.canceled()
        elif result.status == Result.SUCCESS:
            goal_handle.succeed()
        else:
            goal_handle.abort()
        return result

    def run_goal(self, goal: ExecuteGrasp.Goal, on_phase: Any, should_cancel: Any) -> Result:
        """Check, plan and execute one goal; always returns a Result, never raises."""
        if not self._busy.acquire(blocking=False):
            return Result(status=Result.ROBOT_ERROR, message="busy: another grasp is executing")
        try:
            result = self._run_goal(goal, on_phase, should_cancel)
        except Exception as err:  # the last line of defence: a goal must never take the node down
            self.get_logger().error(f"execute_grasp failed unexpectedly: {err!r}")
            result = Result(status=Result.ROBOT_ERROR, message=f"internal error: {err}")
        finally:
            self._busy.release()
        summary = f"execute_grasp: status {result.status}, success {result.success}: {result.message or 'held'}"
        # rclpy refuses one call site logging at two severities, hence two calls.
        if result.status == Result.SUCCESS:
            self.get_logger().info(summary)
        else:
            self.get_logger().warning(summary)
        return result

    def _run_goal(self, goal: ExecuteGrasp.Goal, on_phase: Any, should_cancel: Any) -> Result:
        on_phase("checking")
        problem = self.input_problem(goal)  # again: auto mode has no goal callback
        if problem:
            return Result(status=Result.INVALID_INPUT, message=problem)
        extrinsics, config = self.backend.extrinsics, self.config
        try:
            plan = plan_grasp_motion(
                _camera_grasp(goal),
                float(goal.grasp.width),
                float(goal.grasp.q_value),
                goal.arm.strip().lower(),
                config,
                extrinsics,
                self.gripper,
            )
        except GraspRefusedError as refusal:
            return Result(status=getattr(Result, refusal.status.upper()), message=str(refusal))
        if goal.dry_run:
            on_phase("done")
            return Result(status=Result.SUCCESS, message=f"dry run, nothing moved: {plan.describe()}")
        try:
            outcome = self.backend.execute(plan, on_phase, should_cancel)
        except RobotError as err:
            return Result(status=Result.ROBOT_ERROR, message=str(err))
        on_phase("done")
        if outcome.cause == "canceled":
            return Result(status=Result.CANCELED, message=outcome.message, final_width=outcome.final_width)
        if not outcome.success:
            return Result(
                status=Result.GRASP_FAILED,
                message=f"{outcome.cause}: {outcome.message}",
                final_width=outcome.final_width,
            )
        return Result(status=Result.SUCCESS, success=True, final_width=outcome.final_width)

    def _on_auto_grasp(self, grasp: Grasp) -> None:
        if self._busy.locked():
            self.get_logger().warning("auto mode: grasp dropped, another grasp is executing")
            return
        self.last_auto_result = self.run_goal(ExecuteGrasp.Goal(grasp=grasp), lambda phase: None, lambda: False)

    def _on_new_scene(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        if not self._busy.acquire(blocking=False):
            response.success, response.message = False, "busy: a grasp is executing"
            return response
        try:
            scene = self.backend.new_scene()
            self._encode_scene(scene)
            response.success, response.message = True, f"seed {scene.seed}: new scene"
        except Exception as err:  # a broken scene must not take the node down either
            response.success, response.message = False, f"could not build a new scene: {err}"
        finally:
            self._busy.release()
        return response

    def destroy_node(self) -> None:
        if getattr(self, "backend", None) is not None:
            self.backend.close()
        super().destroy_node()


def _camera_grasp(goal: ExecuteGrasp.Goal) -> Any:
    """The goal's grasp pose as a 4x4 matrix; GraspRefusedError(INVALID_INPUT) if it is not a pose."""
    p, o = goal.grasp.pose.pose.position, goal.grasp.pose.pose.orientation
    return camera_grasp_from_pose([p.x, p.y, p.z], [o.x, o.y, o.z, o.w])


def main(args: list[str] | None = None) -> int:
    # Threads: goals, cancel requests, the camera timer and the new_scene service are served side by side.
    return run_node(ExecuteGraspNode, args=args, num_threads=4, name="execute_grasp_node")


if __name__ == "__main__":
    sys.exit(main())
