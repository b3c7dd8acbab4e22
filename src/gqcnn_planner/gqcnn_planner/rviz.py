"""RViz visualisation of planned grasps: a MarkerArray of candidate jaws and the chosen gripper."""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point
from sensor_msgs.msg import Image
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from gqcnn_core.camera import CameraIntrinsics
from gqcnn_planner.overlay import q_colour
from gqcnn_planner.sampling import GraspCandidates

NAMESPACE_CANDIDATES = "grasp_candidates"
NAMESPACE_CHOSEN = "chosen_grasp"


def jaw_points_3d(candidates: GraspCandidates, camera: CameraIntrinsics) -> np.ndarray:
    """Jaw contact points (N, 2, 3) in the camera frame at each grasp's gripper depth."""
    return camera.deproject_pixels(candidates.endpoints_px(), candidates.depths[:, None])


def grasp_markers(candidates: GraspCandidates, q_values: np.ndarray, camera: CameraIntrinsics, header: Header,
                  chosen: int | None = 0, lifetime_s: float = 0.0) -> MarkerArray:
    """Candidates as one LINE_LIST coloured by q, the chosen grasp as thick jaws plus an approach arrow.

    A DELETEALL marker comes first so stale candidates of an earlier plan disappear.
    """
    markers = [Marker(header=header, action=Marker.DELETEALL)]
    lifetime = Duration(sec=int(lifetime_s), nanosec=int((lifetime_s % 1) * 1e9))
    points = jaw_points_3d(candidates, camera)
    lines = Marker(header=header, ns=NAMESPACE_CANDIDATES, id=0, type=Marker.LINE_LIST, action=Marker.ADD,
                   lifetime=lifetime)
    lines.pose.orientation.w = 1.0
    lines.scale.x = 0.001
    for i in range(len(candidates)):
        r, g, b = q_colour(q_values[i])
        colour = ColorRGBA(r=r / 255, g=g / 255, b=b / 255, a=0.8)
        for p in points[i]:
            lines.points.append(Point(x=float(p[0]), y=float(p[1]), z=float(p[2])))
            lines.colors.append(colour)
    markers.append(lines)
    if chosen is not None and len(candidates):
        jaws = Marker(header=header, ns=NAMESPACE_CHOSEN, id=0, type=Marker.LINE_LIST, action=Marker.ADD,
                      lifetime=lifetime, color=ColorRGBA(r=0.15, g=0.45, b=1.0, a=1.0))
        jaws.pose.orientation.w = 1.0
        jaws.scale.x = 0.004
        p1, p2 = points[chosen]
        finger = np.array([0.0, 0.0, -0.03])  # fingers drawn 3 cm up towards the camera
        for a, b in ((p1, p2), (p1, p1 + finger), (p2, p2 + finger)):
            jaws.points += [Point(x=float(a[0]), y=float(a[1]), z=float(a[2])),
                            Point(x=float(b[0]), y=float(b[1]), z=float(b[2]))]
        approach = Marker(header=header, ns=NAMESPACE_CHOSEN, id=1, type=Marker.ARROW, action=Marker.ADD,
                          lifetime=lifetime, color=ColorRGBA(r=0.15, g=0.45, b=1.0, a=1.0))
        approach.pose.orientation.w = 1.0
        centre = (p1 + p2) / 2
        approach.points = [Point(x=float(centre[0]), y=float(centre[1]), z=float(centre[2] - 0.08)),
                           Point(x=float(centre[0]), y=float(centre[1]), z=float(centre[2]))]
        approach.scale.x, approach.scale.y, approach.scale.z = 0.004, 0.008, 0.01
        markers += [jaws, approach]
    return MarkerArray(markers=markers)


def rgb_image(rgb: np.ndarray, header: Header) -> Image:
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    return Image(header=header, height=rgb.shape[0], width=rgb.shape[1], encoding="rgb8", is_bigendian=0,
                 step=rgb.shape[1] * 3, data=rgb.tobytes())
