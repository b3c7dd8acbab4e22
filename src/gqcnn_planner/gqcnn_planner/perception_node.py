"""Perception node: depth + camera_info -> table plane, object mask and the object's point cloud."""

from __future__ import annotations

import threading
from collections import deque

import numpy as np
import rclpy
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image, PointCloud2, PointField

from gqcnn_planner.ros_conversions import camera_info_for, camera_info_to_intrinsics, image_to_depth, mask_to_image
from gqcnn_planner.segmentation import SegmentationConfig, segment_objects


def point_cloud(points: np.ndarray, header) -> PointCloud2:
    """Unorganised XYZ float32 cloud (no sensor_msgs_py in the wheels, and this is all it takes)."""
    points = np.ascontiguousarray(points, dtype=np.float32).reshape(-1, 3)
    fields = [PointField(name=n, offset=4 * i, datatype=PointField.FLOAT32, count=1) for i, n in enumerate("xyz")]
    return PointCloud2(header=header, height=1, width=len(points), fields=fields, is_bigendian=False, point_step=12,
                       row_step=12 * len(points), is_dense=True, data=points.tobytes())


class PerceptionNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("gqcnn_perception", **kwargs)

        def p(name, default, description):
            return self.declare_parameter(name, default, ParameterDescriptor(description=description)).value

        self.config = SegmentationConfig(
            min_object_height=p("min_object_height", 0.005, "metres above the table plane"),
            max_object_height=p("max_object_height", 0.3, "metres above the table plane"),
            plane_inlier_distance=p("plane_inlier_distance", 0.004, "RANSAC inlier distance, metres"),
            min_object_pixels=p("min_object_pixels", 50, "smaller blobs are noise"),
            workspace_min=tuple(p("workspace_min", [-1.0, -1.0, 0.1], "camera-frame box corner (x, y, z), m")),
            workspace_max=tuple(p("workspace_max", [1.0, 1.0, 2.0], "camera-frame box corner (x, y, z), m")),
        )
        depth_topic = p("depth_topic", "depth/image_raw", "depth image (16UC1 mm or 32FC1 m)")
        info_topic = p("camera_info_topic", "depth/camera_info", "camera_info of the depth image")
        self._infos: deque[CameraInfo] = deque(maxlen=30)
        self._lock = threading.Lock()
        self.rng = np.random.default_rng(0)
        self.create_subscription(CameraInfo, info_topic, self.on_info, qos_profile_sensor_data)
        self.create_subscription(Image, depth_topic, self.on_depth, qos_profile_sensor_data)
        self.mask_pub = self.create_publisher(Image, "segmask", 1)
        self.cloud_pub = self.create_publisher(PointCloud2, "object_points", 1)

    def on_info(self, msg: CameraInfo) -> None:
        with self._lock:
            self._infos.append(msg)

    def on_depth(self, msg: Image) -> None:
        with self._lock:
            info = camera_info_for(msg.header.stamp, list(self._infos))
        if info is None:
            self.get_logger().warning("depth image without camera_info yet: skipped", throttle_duration_sec=5.0)
            return
        try:
            camera = camera_info_to_intrinsics(info)
            depth = image_to_depth(msg)
            camera.check_image(depth)
            mask, _ = segment_objects(depth, camera, self.rng, self.config)
        except ValueError as err:
            self.get_logger().warning(f"cannot segment frame: {err}", throttle_duration_sec=5.0)
            return
        self.mask_pub.publish(mask_to_image(mask, msg.header))
        cloud = camera.deproject_image(depth)[mask]
        self.cloud_pub.publish(point_cloud(cloud, msg.header))


def main(args=None) -> None:
    rclpy.init(args=args)
    node = PerceptionNode()
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
