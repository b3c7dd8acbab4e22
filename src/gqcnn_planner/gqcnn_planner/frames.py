"""Resolving a PlanGrasp goal's target_frame: tf2 when it is importable, else /tf_static, else the extrinsics file.

With tf2_ros (a system ROS) any frame in the TF tree works, including a calibration published by someone else.
The wheels this workspace runs on have no tf2_ros: then the resolver listens to /tf_static itself (transient local,
as tf2's static listener) and answers with the latest transform received for the pair of frames asked, whoever
published it (camera_tf_node on a robot, the execute node's simulated camera in sim), either way round; without one
it falls back to the extrinsics file (base frame <- camera optical frame, what camera_tf_node publishes). No chains:
target_frame may be the published parent or child frame of the image's frame.
"""

from __future__ import annotations

import threading

import numpy as np
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.time import Time

from gqcnn_core.frames import CameraExtrinsics, load_extrinsics
from gqcnn_core.paths import DEFAULT_EXTRINSICS_FILE
from gqcnn_planner.errors import InvalidInputError
from gqcnn_planner.ros_conversions import transform_to_matrix
from tf2_msgs.msg import TFMessage

try:  # a system ROS 2 has tf2_ros; the PyPI wheels do not
    import tf2_ros
except ImportError:
    tf2_ros = None

# tf2_ros's static listener QoS: every publisher's latched message reaches a subscriber that joins later.
TF_STATIC_LISTENER_QOS = QoSProfile(depth=100, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE,
                                    durability=DurabilityPolicy.TRANSIENT_LOCAL)


class FrameResolver:
    """`lookup(target, source)`: the 4x4 pose of `source` in `target` (maps source coordinates to target ones)."""

    def __init__(self, node: Node, extrinsics_file: str = "", use_tf2: bool = True) -> None:
        self.extrinsics: CameraExtrinsics | None = None
        self.extrinsics_error = ""
        path = extrinsics_file or str(DEFAULT_EXTRINSICS_FILE)
        try:
            self.extrinsics = load_extrinsics(path)
        except (OSError, ValueError) as err:
            self.extrinsics_error = str(err)
        self.buffer = None
        self._static: dict[tuple[str, str], np.ndarray] = {}  # (parent, child) -> pose of child in parent
        self._lock = threading.Lock()
        if use_tf2 and tf2_ros is not None:
            self.buffer = tf2_ros.Buffer()
            self._listener = tf2_ros.TransformListener(self.buffer, node, spin_thread=False)
        else:
            node.create_subscription(TFMessage, "/tf_static", self._on_tf_static, TF_STATIC_LISTENER_QOS,
                                     callback_group=MutuallyExclusiveCallbackGroup())

    @property
    def source(self) -> str:
        if self.buffer is not None:
            return "tf2"
        return "/tf_static" if self._static else "extrinsics file"

    def _on_tf_static(self, msg: TFMessage) -> None:
        for transform in msg.transforms:
            try:
                pose = transform_to_matrix(transform.transform)
            except ValueError:  # a malformed transform (non-unit quaternion) is not one to answer with
                continue
            with self._lock:
                self._static[(transform.header.frame_id, transform.child_frame_id)] = pose

    def lookup(self, target: str, source: str, timeout_s: float = 0.5) -> np.ndarray:
        """Raises InvalidInputError naming the frames when the transform is unknown."""
        if target == source:
            return np.eye(4)
        if self.buffer is not None:
            try:
                stamped = self.buffer.lookup_transform(target, source, Time(), Duration(seconds=timeout_s))
                return transform_to_matrix(stamped.transform)
            except (tf2_ros.LookupException, tf2_ros.ConnectivityException, tf2_ros.ExtrapolationException) as err:
                if self.extrinsics is None:
                    raise InvalidInputError(f"target_frame '{target}': no transform from '{source}': {err}") from None
        with self._lock:
            direct, inverse = self._static.get((target, source)), self._static.get((source, target))
        if direct is not None:
            return direct.copy()
        if inverse is not None:
            return np.linalg.inv(inverse)
        return self._from_extrinsics(target, source)

    def _from_extrinsics(self, target: str, source: str) -> np.ndarray:
        if self.extrinsics is None:
            raise InvalidInputError(f"target_frame '{target}': no transform from '{source}' on /tf_static and no "
                                    f"camera extrinsics ({self.extrinsics_error})")
        e = self.extrinsics
        if (target, source) == (e.base_frame, e.camera_frame):
            return e.base_camera
        if (target, source) == (e.camera_frame, e.base_frame):
            return np.linalg.inv(e.base_camera)
        raise InvalidInputError(f"target_frame '{target}': unknown; without tf2 the planner knows the transforms "
                                f"received on /tf_static and '{e.base_frame}' <- '{e.camera_frame}' from {e.source} "
                                f"(the image is in '{source}')")
