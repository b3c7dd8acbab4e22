"""RealSense depth source (pyrealsense2): depth in metres (32FC1) with camera_info and frame ids.

The node reads framesets from anything with `wait_for_frames(timeout_ms)`: a pyrealsense2 pipeline for a
real camera, or a syncer fed by a pyrealsense2 software device (how the tests run without hardware).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyrealsense2 as rs
import rclpy
from builtin_interfaces.msg import Time as TimeMsg
from rclpy.clock import Clock
from rclpy.node import Node
from rclpy.time import Time
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from gqcnn_core.camera import CameraIntrinsics
from gqcnn_planner.node_settings import NodeStartError, declare_settings, run_node, setting
from gqcnn_planner.ros_conversions import depth_to_image, intrinsics_to_camera_info


def depth_frame_to_metres(frame: rs.depth_frame) -> np.ndarray:
    """Z16 depth frame -> float32 metres, NaN where the camera reports no depth (0)."""
    raw = np.asanyarray(frame.get_data()).astype(np.float32)
    depth = raw * np.float32(frame.get_units())
    depth[raw == 0] = np.nan
    return depth


def frame_intrinsics(frame: rs.frame, frame_id: str) -> CameraIntrinsics:
    intr = frame.profile.as_video_stream_profile().intrinsics
    return CameraIntrinsics(intr.fx, intr.fy, intr.ppx, intr.ppy, intr.width, intr.height, frame_id)


def frame_stamp(frame: rs.frame, clock: Clock) -> TimeMsg:
    """When the frame was captured: its system-time timestamp (ms since the epoch), else the clock's now.

    librealsense reports the host's system time for frames unless global time is off and the device clock is used,
    in which case the stamp is no wall-clock time: fall back to now() then rather than stamping 1970."""
    if frame.get_frame_timestamp_domain() in (rs.timestamp_domain.system_time, rs.timestamp_domain.global_time):
        return Time(nanoseconds=int(frame.get_timestamp() * 1e6)).to_msg()
    return clock.now().to_msg()


FrameReader = Callable[[int], rs.composite_frame]


def start_pipeline(serial: str, width: int, height: int, fps: int, align_to_color: bool) -> FrameReader:
    """Start a camera and return its frameset reader (depth aligned to colour when asked)."""
    config = rs.config()
    if serial:
        config.enable_device(serial)
    config.enable_stream(rs.stream.depth, width, height, rs.format.z16, fps)
    if align_to_color:
        config.enable_stream(rs.stream.color, width, height, rs.format.rgb8, fps)
    pipeline = rs.pipeline()
    pipeline.start(config)
    align = rs.align(rs.stream.color) if align_to_color else None

    def read(timeout_ms: int) -> rs.composite_frame:
        frames = pipeline.wait_for_frames(timeout_ms)
        return align.process(frames) if align is not None else frames

    read.stop = pipeline.stop  # type: ignore[attr-defined]
    return read


@dataclass(frozen=True)
class RealSenseSettings:
    """The RealSense node's ROS parameters (all read-only: they configure the camera stream when it starts)."""

    serial: str = setting("", "device serial number (empty: first camera found)")
    width: int = setting(640, "pixels", low=1, high=4096)
    height: int = setting(480, "pixels", low=1, high=4096)
    fps: int = setting(30, "frames/s", low=1, high=300)
    align_to_color: bool = setting(False, "align depth to the colour camera (frame_id should then be its frame)")
    frame_id: str = setting("camera_depth_optical_frame", "optical frame of the published depth")
    timeout_ms: int = setting(1000, "wait for a frameset at most this long", low=1, high=60000)


class RealSenseNode(Node):
    def __init__(self, frame_source: FrameReader | None = None, **kwargs) -> None:
        super().__init__("realsense_depth", **kwargs)
        s = declare_settings(self, RealSenseSettings)
        self.frame_id, self.timeout_ms = s.frame_id, s.timeout_ms
        try:
            self.read = frame_source or start_pipeline(s.serial, s.width, s.height, s.fps, s.align_to_color)
        except RuntimeError as err:  # pyrealsense2: no device, busy, unsupported stream
            raise NodeStartError(f"cannot start the camera: {err}") from None
        # Reliable (system default) like every camera driver: RViz's reliable displays see it, and the planner's
        # best-effort subscriptions match it too.
        self.depth_pub = self.create_publisher(Image, "depth/image_raw", 5)
        self.info_pub = self.create_publisher(CameraInfo, "depth/camera_info", 5)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.loop, daemon=True)
        self._thread.start()

    def loop(self) -> None:
        while not self._stop.is_set() and rclpy.ok(context=self.context):
            try:
                frames = self.read(self.timeout_ms)
            except RuntimeError as err:  # pyrealsense2 raises RuntimeError on timeouts and disconnects
                self.get_logger().warning(f"no depth frame: {err}", throttle_duration_sec=5.0)
                continue
            self.publish(frames)

    def publish(self, frames: rs.composite_frame) -> None:
        frame = frames.get_depth_frame()
        if not frame:
            return
        header = Header(stamp=frame_stamp(frame, self.get_clock()), frame_id=self.frame_id)
        self.depth_pub.publish(depth_to_image(depth_frame_to_metres(frame), "32FC1", header))
        self.info_pub.publish(intrinsics_to_camera_info(frame_intrinsics(frame, self.frame_id), header))

    def destroy_node(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
        getattr(self.read, "stop", lambda: None)()
        super().destroy_node()


def main(args=None) -> None:
    raise SystemExit(run_node(RealSenseNode, args, name="realsense_depth"))


if __name__ == "__main__":
    main()
