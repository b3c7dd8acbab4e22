"""Resolving a PlanGrasp goal's target_frame: tf2 when it is importable, else the camera extrinsics file.

With tf2_ros (a system ROS) any frame in the TF tree works, including a calibration published by someone else.
The wheels this workspace runs on have no tf2_ros: then the extrinsics file is the one transform known (base frame
<- camera optical frame, the same file camera_tf_node publishes on /tf_static), so target_frame may be the file's
base frame or the camera frame itself.
"""

from __future__ import annotations

import numpy as np
from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.time import Time

from gqcnn_core.frames import CameraExtrinsics, load_extrinsics
from gqcnn_core.paths import DEFAULT_EXTRINSICS_FILE
from gqcnn_planner.errors import InvalidInputError
from gqcnn_planner.ros_conversions import transform_to_matrix

try:  # a system ROS 2 has tf2_ros; the PyPI wheels do not
    import tf2_ros
except ImportError:
    tf2_ros = None


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
        if use_tf2 and tf2_ros is not None:
            self.buffer = tf2_ros.Buffer()
            self._listener = tf2_ros.TransformListener(self.buffer, node, spin_thread=False)

    @property
    def source(self) -> str:
        return "tf2" if self.buffer is not None else "extrinsics file"

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
        return self._from_extrinsics(target, source)

    def _from_extrinsics(self, target: str, source: str) -> np.ndarray:
        if self.extrinsics is None:
            raise InvalidInputError(f"target_frame '{target}': no tf2 and no camera extrinsics "
                                    f"({self.extrinsics_error})")
        e = self.extrinsics
        if (target, source) == (e.base_frame, e.camera_frame):
            return e.base_camera
        if (target, source) == (e.camera_frame, e.base_frame):
            return np.linalg.inv(e.base_camera)
        raise InvalidInputError(f"target_frame '{target}': unknown; without tf2 the planner knows only "
                                f"'{e.base_frame}' <- '{e.camera_frame}' from {e.source} (the image is in '{source}')")
