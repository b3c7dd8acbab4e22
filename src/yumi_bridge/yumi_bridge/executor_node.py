"""ROS 2 node serving `execute_grasp` (dexnet_msgs/action/ExecuteGrasp) on a real YuMi (rws) or in MuJoCo (sim).

Every goal is checked (motion.plan_grasp_motion) before anything moves and ends with a status and a message,
whatever goes wrong. One goal runs at a time; a goal arriving meanwhile ends at once with ROBOT_ERROR ("busy").
Cancel takes effect between waypoints (rws) or within a few simulation steps (sim).

sim backend: at start-up an object (sim_mesh_file, or a box) is dropped on the table with sim_seed and its depth
image is published on ~/sim/depth (32FC1) and ~/sim/camera_info, latched and again at sim_camera_rate as a camera
driver streams (a best-effort, volatile subscriber such as the planner's only sees frames sent after it joined);
remap them onto the planner's depth topics to plan on the scene. Every goal runs from that settled scene.
~/sim/new_scene (std_srvs/Trigger) drops the object again with the next seed.

Auto mode: with auto_grasp_topic set, every dexnet_msgs/Grasp published there is executed like a goal with the
default arm (dropped with a warning while busy); results are logged.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import fields
from pathlib import Path
from typing import Any

import rclpy
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header
from std_srvs.srv import Trigger

from dexnet_msgs.action import ExecuteGrasp
from dexnet_msgs.msg import Grasp
from gqcnn_core.paths import DEFAULT_EXTRINSICS_FILE
from gqcnn_planner.ros_conversions import depth_to_image, intrinsics_to_camera_info
from yumi_bridge.frames import CameraExtrinsics, load_extrinsics
from yumi_bridge.motion import (
    GraspRefusedError,
    MotionConfig,
    camera_grasp_from_pose,
    plan_grasp_motion,
    settings_from_parameters,
)
from yumi_bridge.rws import RwsClient, RwsError, RwsExecutor, RwsSettings
from yumi_bridge.sim import GraspSimulator, SimSettings, load_sim_mesh

Result = ExecuteGrasp.Result
NODE_PARAMETERS = {
    "backend": ("sim", "Execution backend: sim (MuJoCo) or rws (ABB YuMi over Robot Web Services)"),
    "extrinsics_file": ("", "rws: camera extrinsics YAML; empty: config/camera_extrinsics.yaml of the workspace"),
    "auto_grasp_topic": ("", "Non-empty: also execute every dexnet_msgs/Grasp published on this topic"),
    "sim_camera_rate": (2.0, "sim: Hz at which the scene's depth and camera_info are published (0: once per scene)"),
}


class ExecutorNode(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("yumi_bridge", **kwargs)
        params = self._declare_parameters()
        self.backend_name = params["backend"]
        self.config = settings_from_parameters(MotionConfig, params)
        self._busy = threading.Lock()
        self._group = ReentrantCallbackGroup()
        self.rws_client: RwsClient | None = None
        if self.backend_name == "sim":
            self._start_sim(settings_from_parameters(SimSettings, params), float(params["sim_camera_rate"]))
        elif self.backend_name == "rws":
            self._start_rws(settings_from_parameters(RwsSettings, params), params["extrinsics_file"])
        else:
            raise ValueError(f"backend must be 'sim' or 'rws', got {self.backend_name!r}")
        self.server = ActionServer(
            self,
            ExecuteGrasp,
            "execute_grasp",
            execute_callback=self._execute,
            goal_callback=lambda goal: GoalResponse.ACCEPT,
            cancel_callback=lambda handle: CancelResponse.ACCEPT,
            callback_group=self._group,
        )
        self.last_auto_result: Result | None = None
        if params["auto_grasp_topic"]:
            self.create_subscription(
                Grasp, params["auto_grasp_topic"], self._on_auto_grasp, 1, callback_group=self._group
            )
        self.get_logger().info(
            f"execute_grasp ready ({self.backend_name} backend, default arm "
            f"{self.config.default_arm}, min_q {self.config.min_q})"
        )

    # ---- set-up --------------------------------------------------------------------------------------------------

    def _declare_parameters(self) -> dict[str, Any]:
        specs = dict(NODE_PARAMETERS)
        for settings in (MotionConfig, RwsSettings, SimSettings):
            specs.update({f.name: (f.default, f.metadata["help"]) for f in fields(settings)})
        values = {}
        for name, (default, help_text) in specs.items():
            default = list(default) if isinstance(default, tuple) else default
            # dynamic typing: a YAML 1 for a float parameter must not stop the node; settings convert types.
            descriptor = ParameterDescriptor(description=help_text, dynamic_typing=True)
            values[name] = self.declare_parameter(name, default, descriptor).value
        return values

    def _start_sim(self, settings: SimSettings, camera_rate: float) -> None:
        if not 0 <= camera_rate <= 100:
            raise ValueError(f"sim_camera_rate must be between 0 and 100 Hz, got {camera_rate}")
        self._camera_lock = threading.Lock()
        self.sim = GraspSimulator(load_sim_mesh(settings.sim_mesh_file), self.config, settings)
        self.seed = settings.sim_seed
        latched = QoSProfile(
            depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL, reliability=ReliabilityPolicy.RELIABLE
        )
        self.depth_pub = self.create_publisher(Image, "~/sim/depth", latched)
        self.info_pub = self.create_publisher(CameraInfo, "~/sim/camera_info", latched)
        self.create_service(Trigger, "~/sim/new_scene", self._on_new_scene, callback_group=self._group)
        self._drop_scene()
        if camera_rate > 0:
            self.create_timer(1.0 / camera_rate, self._publish_camera)

    def _drop_scene(self) -> None:
        scene = self.sim.drop_object(self.seed)
        # One lock with the camera timer: a tick that read the old scene must not publish it after the new one.
        with self._camera_lock:
            self.scene, self.extrinsics = scene, scene.extrinsics()
            # Encoded once per scene; every tick only restamps (publish serialises the message at once).
            self._camera_msgs = (depth_to_image(scene.depth, "32FC1"), intrinsics_to_camera_info(scene.camera))
        self._publish_camera()

    def _publish_camera(self) -> None:
        with self._camera_lock:
            image, info = self._camera_msgs
            image.header = info.header = Header(frame_id=self.scene.camera.frame_id,
                                                stamp=self.get_clock().now().to_msg())
            self.depth_pub.publish(image)
            self.info_pub.publish(info)

    def _start_rws(self, settings: RwsSettings, extrinsics_file: str) -> None:
        path = Path(extrinsics_file) if extrinsics_file else DEFAULT_EXTRINSICS_FILE
        try:
            self.extrinsics = load_extrinsics(path)
        except (OSError, ValueError) as err:
            # Not fatal: every goal is refused with NOT_CALIBRATED and this reason.
            self.get_logger().error(f"no usable camera extrinsics: {err}")
            self.extrinsics = CameraExtrinsics(calibrated=False, source=str(err))
        if not self.extrinsics.calibrated:
            self.get_logger().warning(
                f"camera extrinsics not calibrated ({self.extrinsics.source}): "
                "goals will be refused with NOT_CALIBRATED"
            )
        self.rws_client = RwsClient(settings, log=self.get_logger().info)
        self.rws = RwsExecutor(self.rws_client, self.config)

    # ---- goals ---------------------------------------------------------------------------------------------------

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
        pose = goal.grasp.pose
        try:
            frame = pose.header.frame_id
            if frame and frame != self.extrinsics.camera_frame:
                message = (
                    f"grasp pose is in frame '{frame}' but the camera extrinsics are for "
                    f"'{self.extrinsics.camera_frame}'"
                )
                return Result(status=Result.INVALID_INPUT, message=message)
            p, o = pose.pose.position, pose.pose.orientation
            camera_grasp = camera_grasp_from_pose([p.x, p.y, p.z], [o.x, o.y, o.z, o.w])
            plan = plan_grasp_motion(
                camera_grasp,
                float(goal.grasp.width),
                float(goal.grasp.q_value),
                goal.arm.strip().lower(),
                self.config,
                self.extrinsics,
            )
        except GraspRefusedError as refusal:
            return Result(status=getattr(Result, refusal.status.upper()), message=str(refusal))
        if goal.dry_run:
            on_phase("done")
            return Result(status=Result.SUCCESS, message=f"dry run, nothing moved: {plan.describe()}")
        try:
            if self.backend_name == "sim":
                outcome = self.sim.execute(plan, on_phase, should_cancel)
            else:
                outcome = self.rws.execute(plan, on_phase, should_cancel)
        except RwsError as err:
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
            self.seed += 1
            self._drop_scene()
            position = self.scene.world_object[:3, 3].round(3).tolist()
            response.success, response.message = True, f"seed {self.seed}: object at {position}"
        except Exception as err:  # a broken scene must not take the node down either
            response.success, response.message = False, f"could not build a new scene: {err}"
        finally:
            self._busy.release()
        return response

    def destroy_node(self) -> None:
        if self.rws_client is not None:
            self.rws_client.close()
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    rclpy.init(args=args)
    try:
        node = ExecutorNode()
    except (ValueError, OSError, RuntimeError) as err:
        print(f"yumi_bridge: cannot start: {err}", file=sys.stderr)
        rclpy.try_shutdown()
        return 1
    executor = MultiThreadedExecutor()
    executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
