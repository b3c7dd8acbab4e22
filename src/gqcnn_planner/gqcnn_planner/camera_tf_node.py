"""Static TF publisher: base frame -> camera optical frame from the camera extrinsics file, latched on /tf_static.

The same file the robot bridge executes with (config/camera_extrinsics.yaml), so RViz shows robot, camera and
grasps together and a tf2 user gets base-frame poses. Publishes like tf2_ros's StaticTransformBroadcaster (one
reliable, transient-local message), without needing tf2_ros: subscribers that join later still receive it.
"""

from __future__ import annotations

from dataclasses import dataclass

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from gqcnn_core.frames import CameraExtrinsics, load_extrinsics
from gqcnn_core.paths import DEFAULT_EXTRINSICS_FILE
from gqcnn_planner.node_settings import NodeStartError, declare_settings, run_node, setting
from gqcnn_planner.ros_conversions import transform_to_msg
from tf2_msgs.msg import TFMessage

STATIC_TF_QOS = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE,
                           durability=DurabilityPolicy.TRANSIENT_LOCAL)


@dataclass(frozen=True)
class CameraTfSettings:
    extrinsics_file: str = setting("", "camera extrinsics YAML (empty: config/camera_extrinsics.yaml)")


def static_tf_message(extrinsics: CameraExtrinsics, stamp=None) -> TFMessage:
    return TFMessage(transforms=[transform_to_msg(extrinsics.base_camera, extrinsics.base_frame,
                                                  extrinsics.camera_frame, stamp)])


class CameraTfNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("camera_tf_publisher", **kwargs)
        settings = declare_settings(self, CameraTfSettings)
        path = settings.extrinsics_file or str(DEFAULT_EXTRINSICS_FILE)
        try:
            self.extrinsics = load_extrinsics(path)
        except (OSError, ValueError) as err:
            raise NodeStartError(f"cannot publish the camera pose: {err}") from None
        self.publisher = self.create_publisher(TFMessage, "/tf_static", STATIC_TF_QOS)
        self.publisher.publish(static_tf_message(self.extrinsics, self.get_clock().now().to_msg()))
        e = self.extrinsics
        note = "" if e.calibrated else " (calibrated: false, a placeholder until a hand-eye calibration replaces it)"
        log = self.get_logger().info if e.calibrated else self.get_logger().warning
        log(f"/tf_static: {e.base_frame} -> {e.camera_frame} from {e.source}{note}")


def main(args=None) -> None:
    raise SystemExit(run_node(CameraTfNode, args, name="camera_tf_publisher"))


if __name__ == "__main__":
    main()
