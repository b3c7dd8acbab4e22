"""`plan_grasp` action server: depth image in, GQ-CNN grasp out (thin: logic lives in policies.py)."""

from __future__ import annotations

import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass

import numpy as np
from geometry_msgs.msg import PoseArray, PoseStamped
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header
from visualization_msgs.msg import Marker, MarkerArray

from dexnet_msgs.action import PlanGrasp
from gqcnn_core.camera import CameraIntrinsics
from gqcnn_core.gripper import Gripper, load_gripper
from gqcnn_core.model import GQCNN, ModelError
from gqcnn_core.paths import default_model_path
from gqcnn_planner.frames import FrameResolver
from gqcnn_planner.goal_checks import rejection_reason
from gqcnn_planner.inputs import MAX_IMAGE_PIXELS
from gqcnn_planner.node_settings import declare_settings, run_node, setting
from gqcnn_planner.overlay import draw_grasps
from gqcnn_planner.policies import (
    POLICIES,
    InvalidInputError,
    NoImageError,
    Plan,
    PlanningError,
    PolicyConfig,
    plan,
)
from gqcnn_planner.ros_conversions import (
    CAMERA_PRESETS,
    REALSENSE_ROS_TOPICS,
    SENSOR_QOS,
    camera_info_for,
    camera_info_to_intrinsics,
    camera_topics,
    grasp_to_msg,
    image_to_depth,
    image_to_mask,
    is_empty_image,
    msg_to_pose,
    pose_to_msg,
)
from gqcnn_planner.rviz import grasp_markers, rgb_image
from gqcnn_planner.segmentation import segment_objects

STATUS = {name: getattr(PlanGrasp.Result, name) for name in
          ("SUCCESS", "NO_VALID_GRASP", "INVALID_INPUT", "NO_IMAGE", "MODEL_ERROR", "CANCELED")}


_POLICY = PolicyConfig()  # the defaults are PolicyConfig's: written once
# Markers and the debug image are latched: RViz opened later still shows the last plan.
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)


@dataclass(frozen=True)
class PlannerSettings:
    """The planner's ROS parameters (config/planner.yaml); dynamic ones apply to the next goal."""

    model_path: str = setting("", "ONNX GQ-CNN with its model card beside it (empty: shipped model)")
    policy: str = setting("ranking", "default policy", choices=POLICIES, dynamic=True)
    num_candidates: int = setting(_POLICY.num_candidates, "antipodal candidates (ranking) or CEM seeds",
                                  low=1, high=100000, dynamic=True)
    top_k: int = setting(_POLICY.top_k, "candidates returned in the result and drawn in RViz", low=1, high=100000,
                         dynamic=True)
    cem_rounds: int = setting(_POLICY.cem_rounds, "cross-entropy method rounds", low=1, high=10000, dynamic=True)
    cem_samples: int = setting(_POLICY.cem_samples, "grasps sampled from the mixture per CEM round", low=1,
                               high=100000, dynamic=True)
    gripper_file: str = setting("", "gripper geometry YAML with the keys of config/gripper_yumi.yaml, for the "
                                "sampler and the collision check (empty: ABB YuMi smart gripper)")
    seed: int = setting(0, "random seed of the samplers (-1: random)", low=-1)
    model_threads: int = setting(2, "onnxruntime intra-op threads", low=1, high=256)
    segment_if_no_mask: bool = setting(True, "segment objects above the table when no mask is given or received",
                                       dynamic=True)
    publish_debug_image: bool = setting(True, "publish ~/debug_image with the grasps drawn", dynamic=True)
    depth_topic: str = setting("depth/image_raw", "depth image (16UC1 mm or 32FC1 m)")
    camera_info_topic: str = setting("depth/camera_info", "camera_info of the depth image")
    mask_topic: str = setting("segmask", "object mask from the perception node (mono8)")
    frame_timeout: float = setting(5.0, "a goal without an image waits this long (s) for the first camera frame "
                                   "before NO_IMAGE", low=0.0, high=600.0, dynamic=True)
    result_timeout: float = setting(30.0, "seconds a finished goal's result is kept for the client to fetch (each "
                                    "kept goal holds its depth image until then)", low=1.0, high=3600.0)
    camera_preset: str = setting("", "'realsense_ros': subscribe to realsense-ros's default topics "
                                 f"({REALSENSE_ROS_TOPICS[0]}, {REALSENSE_ROS_TOPICS[1]}) instead of depth_topic and "
                                 "camera_info_topic", choices=CAMERA_PRESETS)
    extrinsics_file: str = setting("", "camera extrinsics YAML for goals with a target_frame when tf2 is not "
                                   "available and /tf_static brought no transform between the frames asked "
                                   "(empty: config/camera_extrinsics.yaml)")

    def camera_topics(self) -> tuple[str, str]:
        return camera_topics(self.camera_preset, self.depth_topic, self.camera_info_topic)

    def policy_config(self, gripper: Gripper) -> PolicyConfig:
        return PolicyConfig(gripper=gripper, num_candidates=self.num_candidates, top_k=self.top_k,
                            cem_seeds=self.num_candidates, cem_samples=self.cem_samples, cem_rounds=self.cem_rounds)


class PlannerNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("gqcnn_planner", **kwargs)
        self.settings = declare_settings(self, PlannerSettings, on_change=self.apply_settings)
        s = self.settings
        self.model_path = s.model_path or default_model_path()
        self.rng = np.random.default_rng(None if s.seed < 0 else s.seed)
        self.model: GQCNN | None = None
        self.model_error = ""
        self.load_model()
        self.gripper: Gripper | None = None
        self.gripper_error = ""
        try:
            self.gripper = load_gripper(s.gripper_file) if s.gripper_file else Gripper()
        except (OSError, ValueError) as err:
            self.gripper_error = f"gripper_file: {err}"
            self.get_logger().error(self.gripper_error)

        self.frames = FrameResolver(self, s.extrinsics_file)
        self._lock = threading.Lock()
        self._infos: deque[CameraInfo] = deque(maxlen=30)
        self._latest: Image | None = None
        self._latest_mask: Image | None = None
        sensors = MutuallyExclusiveCallbackGroup()
        self._first_frame = threading.Event()
        self._warned_distortion = False
        depth_topic, info_topic = s.camera_topics()
        for msg_type, topic, callback in ((Image, depth_topic, self.on_depth), (CameraInfo, info_topic, self.on_info),
                                          (Image, s.mask_topic, self.on_mask)):
            self.create_subscription(msg_type, topic, callback, SENSOR_QOS, callback_group=sensors)
        self.markers_pub = self.create_publisher(MarkerArray, "~/grasp_markers", LATCHED)
        self.debug_pub = self.create_publisher(Image, "~/debug_image", LATCHED)
        self.markers_pub.publish(MarkerArray(markers=[Marker(action=Marker.DELETEALL)]))  # latched "no plan yet"
        self.server = ActionServer(self, PlanGrasp, "plan_grasp", execute_callback=self.execute,
                                   goal_callback=self.on_goal, cancel_callback=lambda _: CancelResponse.ACCEPT,
                                   callback_group=ReentrantCallbackGroup(), result_timeout=int(s.result_timeout))
        self.get_logger().info(f"plan_grasp ready (policy {s.policy}, model {self.model_path}"
                               + (f": NOT LOADED, {self.model_error}" if self.model is None else "") + ")")

    def on_goal(self, goal: PlanGrasp.Goal) -> GoalResponse:
        reason = rejection_reason(goal)
        if reason:
            self.get_logger().warning(f"plan_grasp goal rejected: {reason}")
            return GoalResponse.REJECT
        return GoalResponse.ACCEPT

    def apply_settings(self, settings: PlannerSettings) -> None:
        self.settings = settings  # read once per goal, so a change applies to the next goal

    def load_model(self) -> None:
        try:
            self.model = GQCNN.load(self.model_path, threads=self.settings.model_threads)
        except Exception as err:  # a bad model or card: serve and answer MODEL_ERROR, never fail to start
            self.model = None
            self.model_error = str(err) if isinstance(err, ModelError) else f"cannot load {self.model_path}: {err!r}"
            self.get_logger().error(self.model_error)

    # --- subscriptions: keep the latest frame, its camera_info matched by stamp when possible ---
    def on_info(self, msg: CameraInfo) -> None:
        if any(msg.d) and not self._warned_distortion:
            self._warned_distortion = True
            self.get_logger().warning(f"camera_info has distortion {msg.distortion_model} {list(msg.d)}: the planner "
                                      "assumes a rectified depth image (use the driver's rectified topic)")
        with self._lock:
            self._infos.append(msg)

    def on_depth(self, msg: Image) -> None:
        with self._lock:
            self._latest = msg
        self._first_frame.set()

    def latest_frame(self) -> tuple[Image | None, CameraInfo | None]:
        """The latest depth image and the camera_info with its stamp (else the latest camera_info)."""
        with self._lock:
            depth, infos = self._latest, list(self._infos)
        if depth is None:
            return None, None
        return depth, camera_info_for(depth.header.stamp, infos)

    def on_mask(self, msg: Image) -> None:
        with self._lock:
            self._latest_mask = msg

    # --- the action ---
    def execute(self, goal_handle) -> PlanGrasp.Result:
        start = time.perf_counter()
        result = PlanGrasp.Result()
        try:
            result = self.plan_goal(goal_handle, result)
        except PlanningError as err:
            result.status, result.message = STATUS[err.status], str(err)
        except ModelError as err:  # before ValueError: a model's fault is never the input's
            result.status, result.message = STATUS["MODEL_ERROR"], str(err)
        except ValueError as err:
            result.status, result.message = STATUS["INVALID_INPUT"], str(err)
        except Exception as err:  # keep serving whatever happens; the traceback goes to the log
            self.get_logger().error(traceback.format_exc())
            result.status, result.message = STATUS["MODEL_ERROR"], f"internal error: {err!r}"
        result.planning_time = float(time.perf_counter() - start)
        # rclpy keeps the finished goal (its request included) for result_timeout: drop the images now.
        request = goal_handle.request
        request.depth, request.segmask, request.camera_info = Image(), Image(), CameraInfo()
        if result.status == STATUS["SUCCESS"]:
            goal_handle.succeed()
        elif result.status == STATUS["CANCELED"] and goal_handle.is_cancel_requested:
            goal_handle.canceled()
        else:
            goal_handle.abort()
            self.get_logger().warning(f"plan_grasp failed ({result.status}): {result.message}")
        return result

    def plan_goal(self, goal_handle, result: PlanGrasp.Result) -> PlanGrasp.Result:
        goal: PlanGrasp.Goal = goal_handle.request
        settings = self.settings
        depth_msg, info, mask_msg = self.select_inputs(goal)
        camera = camera_info_to_intrinsics(info)
        header = Header(stamp=depth_msg.header.stamp, frame_id=info.header.frame_id or camera.frame_id)
        # Resolved before planning: an unknown frame fails in milliseconds, not after the plan.
        target_camera = self.frames.lookup(goal.target_frame, header.frame_id) if goal.target_frame else None
        if depth_msg.width * depth_msg.height > MAX_IMAGE_PIXELS:  # refuse before decoding hundreds of MB
            raise InvalidInputError(f"depth image {depth_msg.width}x{depth_msg.height} is larger than the "
                                    f"supported {MAX_IMAGE_PIXELS} pixels")
        depth = image_to_depth(depth_msg)
        mask = None
        if mask_msg is not None:
            mask = image_to_mask(mask_msg)
            if mask.shape != depth.shape:
                raise InvalidInputError(f"segmask is {mask.shape[1]}x{mask.shape[0]} but depth is "
                                        f"{depth.shape[1]}x{depth.shape[0]}")
        if self.model is None:
            raise ModelError(f"no GQ-CNN model loaded: {self.model_error}")
        if self.gripper is None:
            raise InvalidInputError(self.gripper_error)
        camera.check_image(depth, "depth image")
        if mask is None and settings.segment_if_no_mask and np.isfinite(depth).sum() > 100:
            try:
                mask, _ = segment_objects(depth, camera)
                mask = mask if mask.any() else None
            except ValueError:
                mask = None  # no table found: plan on the whole image
        roi = (goal.roi.x_offset, goal.roi.y_offset, goal.roi.width, goal.roi.height)

        def feedback(stage: str, progress: float, best_q: float) -> None:
            goal_handle.publish_feedback(PlanGrasp.Feedback(stage=stage, progress=float(progress),
                                                            best_q=float(best_q)))

        config = settings.policy_config(self.gripper)
        planned = plan(goal.policy or settings.policy, depth, camera, self.model, self.rng, mask, roi,
                       num_candidates=goal.num_candidates or None, config=config, progress=feedback,
                       should_cancel=lambda: goal_handle.is_cancel_requested)
        result.status = STATUS["SUCCESS"]
        result.grasp = grasp_to_msg(planned.grasp, planned.q_value, camera, header, planned.segment_id)
        result.candidates = [grasp_to_msg(planned.candidates.grasp(i), planned.q_values[i], camera, header,
                                          planned.segment_id if i == 0 else -1)
                             for i in range(len(planned.candidates))]
        if target_camera is not None:
            target = Header(stamp=header.stamp, frame_id=goal.target_frame)
            result.grasp_pose = PoseStamped(header=target, pose=pose_to_msg(target_camera @ msg_to_pose(
                result.grasp.pose.pose)))
            result.candidate_poses = PoseArray(header=target, poses=[
                pose_to_msg(target_camera @ msg_to_pose(c.pose.pose)) for c in result.candidates])
        result.preprocess_time = float(planned.times["preprocess"])
        result.sampling_time = float(planned.times["sampling"])
        result.inference_time = float(planned.times["inference"])
        self.publish_visuals(depth, camera, planned, header)
        return result

    def select_inputs(self, goal: PlanGrasp.Goal) -> tuple[Image, CameraInfo, Image | None]:
        """The goal's images when given, else the latest subscribed frames."""
        latest, latest_info = self.latest_frame()
        with self._lock:
            latest_mask = self._latest_mask
        if not is_empty_image(goal.depth):
            depth_msg = goal.depth
            info = goal.camera_info if any(goal.camera_info.k) else latest_info
            if info is None:
                raise InvalidInputError("goal camera_info has an all-zero K and no camera_info was received")
            mask_msg = goal.segmask if not is_empty_image(goal.segmask) else None
        else:
            if latest is None and self._first_frame.wait(self.settings.frame_timeout):
                latest, latest_info = self.latest_frame()  # a late-joining or sparse camera stream
            if latest is None:
                raise NoImageError(f"goal has no depth image and none arrived on the depth topic within "
                                   f"{self.settings.frame_timeout:g} s")
            depth_msg, info = latest, latest_info
            if any(goal.camera_info.k):
                info = goal.camera_info
            if info is None and self._wait_for_camera_info(self.settings.frame_timeout):
                info = self.latest_frame()[1]  # a goal K would have been taken above
            if info is None:
                raise NoImageError("no camera_info received for the latest depth image")
            mask_msg = goal.segmask if not is_empty_image(goal.segmask) else latest_mask
            if mask_msg is not None and (mask_msg.height, mask_msg.width) != (depth_msg.height, depth_msg.width):
                mask_msg = None if mask_msg is latest_mask else mask_msg  # a stale mask of another resolution
        if not any(info.k):
            raise InvalidInputError("camera_info has an all-zero K matrix")
        return depth_msg, info, mask_msg

    def _wait_for_camera_info(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._infos:
                    return True
            time.sleep(0.05)
        return False

    def publish_visuals(self, depth: np.ndarray, camera: CameraIntrinsics, planned: Plan, header: Header) -> None:
        self.markers_pub.publish(grasp_markers(planned.candidates, planned.q_values, camera, header))
        if self.settings.publish_debug_image:
            self.debug_pub.publish(rgb_image(draw_grasps(depth, planned.candidates, planned.q_values), header))


def main(args=None) -> None:
    raise SystemExit(run_node(PlannerNode, args, num_threads=4))


if __name__ == "__main__":
    main()
