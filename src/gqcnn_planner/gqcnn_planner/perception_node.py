"""Perception node: depth + camera_info -> table plane, object mask and the object's point cloud."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image, PointCloud2, PointField

from gqcnn_planner.node_settings import declare_settings, run_node, setting
from gqcnn_planner.ros_conversions import (
    CAMERA_PRESETS,
    SENSOR_QOS,
    camera_info_for,
    camera_info_to_intrinsics,
    camera_topics,
    image_to_depth,
    mask_to_image,
)
from gqcnn_planner.segmentation import SegmentationConfig, segment_objects


def point_cloud(points: np.ndarray, header) -> PointCloud2:
    """Unorganised XYZ float32 cloud (no sensor_msgs_py in the wheels, and this is all it takes)."""
    points = np.ascontiguousarray(points, dtype=np.float32).reshape(-1, 3)
    fields = [PointField(name=n, offset=4 * i, datatype=PointField.FLOAT32, count=1) for i, n in enumerate("xyz")]
    return PointCloud2(header=header, height=1, width=len(points), fields=fields, is_bigendian=False, point_step=12,
                       row_step=12 * len(points), is_dense=True, data=points.tobytes())


_SEGMENTATION = SegmentationConfig()


@dataclass(frozen=True)
class PerceptionSettings:
    """The perception node's ROS parameters; the segmentation ones apply to the next frame."""

    depth_topic: str = setting("depth/image_raw", "depth image (16UC1 mm or 32FC1 m)")
    camera_info_topic: str = setting("depth/camera_info", "camera_info of the depth image")
    camera_preset: str = setting("", "'realsense_ros': subscribe to realsense-ros's default topics instead of "
                                 "depth_topic and camera_info_topic", choices=CAMERA_PRESETS)
    min_object_height: float = setting(_SEGMENTATION.min_object_height, "metres above the table plane", low=0.0,
                                       high=10.0, dynamic=True)
    max_object_height: float = setting(_SEGMENTATION.max_object_height, "metres above the table plane", low=0.0,
                                       high=10.0, dynamic=True)
    plane_inlier_distance: float = setting(_SEGMENTATION.plane_inlier_distance, "RANSAC inlier distance, metres",
                                           low=1e-5, high=1.0, dynamic=True)
    min_object_pixels: int = setting(_SEGMENTATION.min_object_pixels, "smaller blobs are noise", low=1,
                                     dynamic=True)
    # Finite corners (a parameter file cannot easily write inf): the core's default box is unbounded in x and y.
    workspace_min: tuple = setting((-1.0, -1.0, 0.1), "camera-frame box corner (x, y, z), m", dynamic=True)
    workspace_max: tuple = setting((1.0, 1.0, 2.0), "camera-frame box corner (x, y, z), m", dynamic=True)

    def __post_init__(self) -> None:
        if self.min_object_height >= self.max_object_height:
            raise ValueError(f"min_object_height {self.min_object_height} must be below max_object_height "
                             f"{self.max_object_height}")
        if len(self.workspace_min) != 3 or len(self.workspace_max) != 3:
            raise ValueError("workspace_min and workspace_max need 3 numbers (x, y, z)")
        if any(lo >= hi for lo, hi in zip(self.workspace_min, self.workspace_max, strict=True)):
            raise ValueError(f"workspace_min {self.workspace_min} must be below workspace_max {self.workspace_max}")

    def segmentation(self) -> SegmentationConfig:
        return SegmentationConfig(min_object_height=self.min_object_height, max_object_height=self.max_object_height,
                                  plane_inlier_distance=self.plane_inlier_distance,
                                  min_object_pixels=self.min_object_pixels, workspace_min=self.workspace_min,
                                  workspace_max=self.workspace_max)


class PerceptionNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("gqcnn_perception", **kwargs)
        settings = declare_settings(self, PerceptionSettings, on_change=self.apply_settings)
        self.config = settings.segmentation()
        depth_topic, info_topic = camera_topics(settings.camera_preset, settings.depth_topic,
                                                settings.camera_info_topic)
        self._infos: deque[CameraInfo] = deque(maxlen=30)
        self._lock = threading.Lock()
        self.rng = np.random.default_rng(0)
        self.create_subscription(CameraInfo, info_topic, self.on_info, SENSOR_QOS)
        self.create_subscription(Image, depth_topic, self.on_depth, SENSOR_QOS)
        self.mask_pub = self.create_publisher(Image, "segmask", 1)
        self.cloud_pub = self.create_publisher(PointCloud2, "object_points", 1)

    def apply_settings(self, settings: PerceptionSettings) -> None:
        self.config = settings.segmentation()

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
    raise SystemExit(run_node(PerceptionNode, args))


if __name__ == "__main__":
    main()
