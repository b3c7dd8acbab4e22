"""Which PlanGrasp goals the action server rejects at once: those that will certainly fail, checked without
decoding the image (the goal callback must stay cheap). Everything else is accepted; a goal that fails later
still ends with a status and a message."""

from __future__ import annotations

from dexnet_msgs.action import PlanGrasp
from gqcnn_core.camera import CameraIntrinsics
from gqcnn_planner.inputs import MAX_IMAGE_PIXELS
from gqcnn_planner.policies import POLICIES
from gqcnn_planner.ros_conversions import (
    DEPTH_PIXEL_BYTES,
    MASK_PIXEL_BYTES,
    camera_info_to_intrinsics,
    check_image_layout,
    is_empty_image,
)


def rejection_reason(goal: PlanGrasp.Goal) -> str:
    """Why `goal` cannot succeed whatever the planner has received, or "" when it may."""
    try:
        check_goal(goal)
    except ValueError as err:
        return str(err)
    return ""


def check_goal(goal: PlanGrasp.Goal) -> None:
    if goal.policy and goal.policy not in POLICIES:
        raise ValueError(f"unknown policy '{goal.policy}', expected one of {', '.join(POLICIES)}")
    camera: CameraIntrinsics | None = None
    if any(goal.camera_info.k):
        camera = camera_info_to_intrinsics(goal.camera_info)  # ValueError: non-finite, f <= 0, K[2] != [0, 0, 1]
    if is_empty_image(goal.depth):
        return  # planned on the latest subscribed frame: nothing more to know now
    depth = goal.depth
    if depth.width * depth.height > MAX_IMAGE_PIXELS:
        raise ValueError(f"depth image {depth.width}x{depth.height} is larger than the supported "
                         f"{MAX_IMAGE_PIXELS} pixels")
    check_image_layout(depth, "depth image", DEPTH_PIXEL_BYTES)
    if camera is not None and (camera.width, camera.height) != (depth.width, depth.height):
        raise ValueError(f"depth image is {depth.width}x{depth.height} but camera_info says "
                         f"{camera.width}x{camera.height}")
    if not is_empty_image(goal.segmask):
        check_image_layout(goal.segmask, "segmask", MASK_PIXEL_BYTES)
        if (goal.segmask.width, goal.segmask.height) != (depth.width, depth.height):
            raise ValueError(f"segmask is {goal.segmask.width}x{goal.segmask.height} but depth is "
                             f"{depth.width}x{depth.height}")
    roi = goal.roi
    if roi.width > 0 and roi.height > 0 and (roi.x_offset + roi.width > depth.width
                                             or roi.y_offset + roi.height > depth.height):
        raise ValueError(f"ROI ({roi.x_offset}, {roi.y_offset}, {roi.width}, {roi.height}) is outside the "
                         f"{depth.width}x{depth.height} image")
