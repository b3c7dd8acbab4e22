"""Perception and RealSense nodes with the real rclpy middleware (RealSense via a pyrealsense2 software device)."""

import subprocess
import sys
import threading
import time

import numpy as np
import pyrealsense2 as rs
import pytest
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image, PointCloud2

from gqcnn_planner.perception_node import PerceptionNode
from gqcnn_planner.realsense_node import RealSenseNode
from gqcnn_planner.ros_conversions import (
    camera_info_to_intrinsics,
    depth_to_image,
    image_to_depth,
    image_to_mask,
    intrinsics_to_camera_info,
)


def collect(node: Node, msg_type, topic: str, store: list, event: threading.Event):
    # Sensor-data QoS (best effort) matches the camera publishers and also receives reliable ones.
    return node.create_subscription(msg_type, topic, lambda m: (store.append(m), event.set()),
                                    qos_profile_sensor_data)


def test_perception_publishes_mask_and_object_cloud(ros, scene):
    ros.add(PerceptionNode(context=ros.context))
    probe = ros.add(Node("perception_probe", context=ros.context))
    masks, clouds, got_mask, got_cloud = [], [], threading.Event(), threading.Event()
    collect(probe, Image, "segmask", masks, got_mask)
    collect(probe, PointCloud2, "object_points", clouds, got_cloud)
    depth_pub = probe.create_publisher(Image, "depth/image_raw", 10)
    info_pub = probe.create_publisher(CameraInfo, "depth/camera_info", 10)
    for _ in range(50):
        stamp = probe.get_clock().now().to_msg()
        info = intrinsics_to_camera_info(scene.camera)
        depth = depth_to_image(scene.depth, "16UC1")
        info.header.stamp = depth.header.stamp = stamp
        info_pub.publish(info)
        depth_pub.publish(depth)
        if got_mask.wait(0.2) and got_cloud.wait(2.0):
            break
    mask = image_to_mask(masks[-1])
    assert (mask & scene.mask).sum() > 0.9 * scene.mask.sum() and (mask & ~scene.mask).sum() < 0.1 * mask.sum()
    points = np.frombuffer(bytes(clouds[-1].data), dtype=np.float32).reshape(-1, 3)
    assert len(points) == mask.sum() and np.all(points[:, 2] > 0.5) and np.all(points[:, 2] < 0.75)


def software_camera(depth_mm: np.ndarray):
    """A pyrealsense2 software device streaming one Z16 frame, and its frameset reader."""
    height, width = depth_mm.shape
    device = rs.software_device()
    sensor = device.add_sensor("Depth")
    intr = rs.intrinsics()
    intr.width, intr.height, intr.ppx, intr.ppy, intr.fx, intr.fy = width, height, 319.5, 239.5, 525.0, 525.0
    intr.model, intr.coeffs = rs.distortion.none, [0.0] * 5
    stream = rs.video_stream()
    stream.type, stream.index, stream.uid, stream.width, stream.height = rs.stream.depth, 0, 0, width, height
    stream.fps, stream.bpp, stream.fmt, stream.intrinsics = 30, 2, rs.format.z16, intr
    profile = sensor.add_video_stream(stream)
    sensor.add_read_only_option(rs.option.depth_units, 0.001)
    syncer = rs.syncer()
    sensor.open(profile)
    sensor.start(syncer)
    frames_sent = [0]
    timestamps_ms: list[float] = []

    def read(timeout_ms: int):
        frame = rs.software_video_frame()
        frame.pixels, frame.bpp, frame.stride = depth_mm.tobytes(), 2, width * 2
        frames_sent[0] += 1
        timestamps_ms.append(time.time() * 1000.0 - 40.0)  # captured 40 ms before it reaches the host
        frame.timestamp, frame.frame_number = timestamps_ms[-1], frames_sent[0]
        frame.domain, frame.profile = rs.timestamp_domain.system_time, profile.as_video_stream_profile()
        sensor.on_video_frame(frame)
        threading.Event().wait(0.03)
        return syncer.wait_for_frames(timeout_ms)

    read.keep_alive = (device, sensor, syncer)
    read.timestamps_ms = timestamps_ms
    return read


def test_realsense_node_publishes_depth_in_metres_with_camera_info(ros, scene):
    depth_mm = np.round(np.nan_to_num(scene.depth) * 1000).astype(np.uint16)
    depth_mm[0, :10] = 0  # no-depth pixels
    camera = software_camera(depth_mm)
    ros.add(RealSenseNode(frame_source=camera, context=ros.context))
    probe = ros.add(Node("realsense_probe", context=ros.context))
    reliable, got_reliable = [], threading.Event()  # what RViz's default (reliable) displays subscribe with
    probe.create_subscription(Image, "depth/image_raw", lambda m: (reliable.append(m), got_reliable.set()), 10)
    images, infos, got_image, got_info = [], [], threading.Event(), threading.Event()
    collect(probe, Image, "depth/image_raw", images, got_image)
    collect(probe, CameraInfo, "depth/camera_info", infos, got_info)
    assert got_image.wait(10.0) and got_info.wait(10.0) and got_reliable.wait(10.0)
    image, info = images[-1], infos[-1]
    stamp_ms = image.header.stamp.sec * 1e3 + image.header.stamp.nanosec * 1e-6
    assert min(abs(stamp_ms - t) for t in camera.timestamps_ms) < 0.01  # the frame's capture time, not now()
    assert info.header.stamp == image.header.stamp
    assert image.encoding == "32FC1" and image.header.frame_id == "camera_depth_optical_frame"
    assert info.header.frame_id == image.header.frame_id
    depth = image_to_depth(image)
    assert np.isnan(depth[0, :10]).all()
    np.testing.assert_allclose(depth[100:], depth_mm[100:] / 1000.0, atol=1e-6)
    camera = camera_info_to_intrinsics(info)
    assert (camera.fx, camera.cx, camera.width, camera.height) == (525.0, 319.5, 640, 480)


@pytest.mark.skipif(len(rs.context().query_devices()) > 0, reason="a RealSense camera is connected")
def test_realsense_node_without_a_camera_logs_the_reason_and_exits_1():
    # Under launch, stdout goes to a log file: the reason must reach the ROS logger (stderr), not print().
    proc = subprocess.run([sys.executable, "-m", "gqcnn_planner.realsense_node"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "[ERROR]" in proc.stderr and "cannot start the camera" in proc.stderr
    assert "Traceback" not in proc.stderr and not proc.stdout.strip()
