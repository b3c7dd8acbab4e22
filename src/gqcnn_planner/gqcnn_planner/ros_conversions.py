"""Conversions between ROS messages and the ROS-free core (no cv_bridge: it breaks on numpy 2)."""

from __future__ import annotations

import numpy as np
from geometry_msgs.msg import Pose, PoseStamped, Transform, TransformStamped
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from dexnet_msgs.msg import Grasp
from gqcnn_core.camera import CameraIntrinsics
from gqcnn_core.depth import check_depth_values, decode_depth, encode_depth
from gqcnn_core.frames import pose_matrix, pose_parts
from gqcnn_core.grasp import Grasp2D

MASK_ENCODINGS = ("mono8", "8UC1")
# Subscriptions to camera streams are best effort: that matches reliable and best-effort publishers alike (drivers
# publish reliable, the sim streams best effort).
SENSOR_QOS = qos_profile_sensor_data
# realsense-ros (ros2 launch realsense2_camera rs_launch.py) publishes under /camera/camera by default.
REALSENSE_ROS_TOPICS = ("/camera/camera/depth/image_rect_raw", "/camera/camera/depth/camera_info")
CAMERA_PRESETS = ("", "realsense_ros")  # the names of the launch argument camera:=
DEPTH_PIXEL_BYTES = {"16UC1": 2, "mono16": 2, "32FC1": 4}
MASK_PIXEL_BYTES = {encoding: 1 for encoding in MASK_ENCODINGS}


def camera_topics(preset: str, depth_topic: str, camera_info_topic: str) -> tuple[str, str]:
    """The (depth, camera_info) topics of a preset of CAMERA_PRESETS; "" keeps the given ones."""
    return REALSENSE_ROS_TOPICS if preset == "realsense_ros" else (depth_topic, camera_info_topic)


def is_empty_image(msg: Image) -> bool:
    return msg.width == 0 or msg.height == 0


def check_image_layout(msg: Image, name: str, pixel_bytes: dict[str, int]) -> None:
    """Raise ValueError unless the message's encoding, step and data length describe a whole image (no decoding)."""
    if msg.encoding not in pixel_bytes:
        raise ValueError(f"{name}: unsupported encoding '{msg.encoding}', expected one of {', '.join(pixel_bytes)}")
    if msg.width == 0 or msg.height == 0:
        raise ValueError(f"{name} is empty ({msg.width}x{msg.height})")
    row_bytes = msg.width * pixel_bytes[msg.encoding]
    step = msg.step or row_bytes
    if step < row_bytes or len(msg.data) < step * (msg.height - 1) + row_bytes:
        raise ValueError(f"{name} data has {len(msg.data)} bytes, too few for {msg.width}x{msg.height} "
                         f"{msg.encoding} with step {msg.step}")


def image_to_depth(msg: Image) -> np.ndarray:
    """sensor_msgs/Image (16UC1 mm or 32FC1 m) -> float32 metres, NaN for missing; ValueError for implausible depths."""
    depth = decode_depth(msg.data, msg.encoding, msg.height, msg.width, msg.step, bool(msg.is_bigendian))
    check_depth_values(depth)
    return depth


def depth_to_image(depth: np.ndarray, encoding: str = "32FC1", header: Header | None = None) -> Image:
    """Float32 metres (NaN = missing) -> sensor_msgs/Image in 32FC1 or 16UC1."""
    data, step = encode_depth(depth, encoding)
    return Image(header=header or Header(), height=depth.shape[0], width=depth.shape[1], encoding=encoding,
                 is_bigendian=0, step=step, data=data)


def image_to_mask(msg: Image) -> np.ndarray:
    """mono8/8UC1 image -> boolean mask (nonzero = object)."""
    if msg.encoding not in MASK_ENCODINGS:
        raise ValueError(f"unsupported mask encoding '{msg.encoding}', expected mono8 or 8UC1")
    if msg.height == 0 or msg.width == 0:
        raise ValueError("mask image is empty")
    step = msg.step or msg.width
    buffer = np.frombuffer(bytes(msg.data), dtype=np.uint8)
    if step < msg.width or buffer.size < step * (msg.height - 1) + msg.width:
        raise ValueError(f"mask data has {buffer.size} bytes, too few for {msg.width}x{msg.height}")
    rows = np.lib.stride_tricks.as_strided(buffer, shape=(msg.height, msg.width), strides=(step, 1))
    return rows != 0


def mask_to_image(mask: np.ndarray, header: Header | None = None) -> Image:
    """Boolean mask -> mono8 image (255 = object)."""
    data = np.where(np.asarray(mask, dtype=bool), 255, 0).astype(np.uint8)
    return Image(header=header or Header(), height=data.shape[0], width=data.shape[1], encoding="mono8",
                 is_bigendian=0, step=data.shape[1], data=data.tobytes())


def camera_info_for(stamp, infos: list[CameraInfo]) -> CameraInfo | None:
    """The camera_info with the depth image's stamp, else the newest one (drivers may stamp them apart)."""
    matched = [i for i in infos if i.header.stamp == stamp]
    return matched[-1] if matched else (infos[-1] if infos else None)


def camera_info_to_intrinsics(msg: CameraInfo) -> CameraIntrinsics:
    return CameraIntrinsics.from_camera_info(msg)


def intrinsics_to_camera_info(camera: CameraIntrinsics, header: Header | None = None) -> CameraInfo:
    header = header or Header(frame_id=camera.frame_id)
    return CameraInfo(header=header, height=camera.height, width=camera.width, distortion_model="plumb_bob",
                      d=[0.0] * 5, k=camera.k.ravel().tolist(), r=np.eye(3).ravel().tolist(),
                      p=camera.p.ravel().tolist())


def grasp_to_msg(grasp: Grasp2D, q_value: float, camera: CameraIntrinsics, header: Header | None = None,
                 segment_id: int = -1) -> Grasp:
    """Grasp2D -> dexnet_msgs/Grasp with its pose in the camera optical frame (segment_id: see Grasp.msg)."""
    position, quaternion = grasp.pose(camera)
    pose = PoseStamped(header=header or Header(frame_id=camera.frame_id))
    pose.pose.position.x, pose.pose.position.y, pose.pose.position.z = (float(v) for v in position)
    o = pose.pose.orientation
    o.x, o.y, o.z, o.w = (float(v) for v in quaternion)
    return Grasp(pose=pose, q_value=float(q_value), center_px=np.array(grasp.center, dtype=np.float32),
                 angle=float(grasp.angle), depth=float(grasp.depth), width=float(grasp.width),
                 width_px=grasp.width_px(camera), segment_id=int(segment_id))


def msg_to_grasp(msg: Grasp) -> Grasp2D:
    return Grasp2D(tuple(float(v) for v in msg.center_px), msg.angle, msg.depth, msg.width)


def grasp_msg_summary(msg: Grasp) -> dict:
    """The image-space fields of a Grasp message, rounded, for one-line JSON reports."""
    return {"center_px": [round(float(v), 1) for v in msg.center_px], "angle": round(msg.angle, 4),
            "depth": round(msg.depth, 4), "width": round(msg.width, 4), "width_px": round(msg.width_px, 1),
            "q_value": round(msg.q_value, 3)}


def pose_to_msg(pose: np.ndarray) -> Pose:
    """4x4 pose -> geometry_msgs/Pose."""
    position, quaternion = pose_parts(pose)
    msg = Pose()
    msg.position.x, msg.position.y, msg.position.z = (float(v) for v in position)
    msg.orientation.x, msg.orientation.y, msg.orientation.z, msg.orientation.w = (float(v) for v in quaternion)
    return msg


def msg_to_pose(msg: Pose) -> np.ndarray:
    """geometry_msgs/Pose -> 4x4 pose (ValueError for a non-unit quaternion)."""
    p, o = msg.position, msg.orientation
    return pose_matrix([p.x, p.y, p.z], [o.x, o.y, o.z, o.w])


def transform_to_msg(parent_child: np.ndarray, parent: str, child: str, stamp=None) -> TransformStamped:
    """4x4 pose of `child` in `parent` -> TransformStamped (the /tf convention: header = parent, child_frame_id)."""
    position, quaternion = pose_parts(parent_child)
    msg = TransformStamped(child_frame_id=child)
    msg.header.frame_id = parent
    if stamp is not None:
        msg.header.stamp = stamp
    t = msg.transform
    t.translation.x, t.translation.y, t.translation.z = (float(v) for v in position)
    t.rotation.x, t.rotation.y, t.rotation.z, t.rotation.w = (float(v) for v in quaternion)
    return msg


def transform_to_matrix(msg: Transform) -> np.ndarray:
    t, r = msg.translation, msg.rotation
    return pose_matrix([t.x, t.y, t.z], [r.x, r.y, r.z, r.w])
