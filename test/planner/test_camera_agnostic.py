"""Camera-agnostic crops: one scene seen by a 640x480 camera (fx 600) and a 1280x720 one (fx 900) gets the same
grasp and q from the shipped model, because the crop window is scaled to the metric footprint of training."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from gqcnn_core.camera import CameraIntrinsics
from gqcnn_core.crop import antialias, grasp_aligned_crops
from gqcnn_core.grasp import Grasp2D
from gqcnn_core.model import GQCNN
from gqcnn_core.paths import SHIPPED_MODEL
from gqcnn_core.render import ObjectRenderer, look_at
from gqcnn_planner.policies import plan

VGA = CameraIntrinsics(600.0, 600.0, 319.5, 239.5, 640, 480)
HD = CameraIntrinsics(900.0, 900.0, 639.5, 359.5, 1280, 720)
SEEDS = (0, 1, 2)


def render(camera: CameraIntrinsics) -> np.ndarray:
    """A 3 x 7 x 5 cm box on the table, camera 0.68 m above it (the planner tests' scene)."""
    world_object = np.eye(4)
    world_object[:3, 3] = [0.02, -0.01, 0.025]
    world_object[:2, :2] = [[np.cos(0.5), -np.sin(0.5)], [np.sin(0.5), np.cos(0.5)]]
    world_camera = look_at(np.array([0.05, 0.08, 0.68]))
    return ObjectRenderer(trimesh.creation.box((0.03, 0.07, 0.05)), camera).render(world_camera, world_object)


def centre_m(grasp: Grasp2D, camera: CameraIntrinsics) -> np.ndarray:
    """The grasp centre in the camera frame, metres (both cameras share the pose)."""
    u, v = grasp.center
    return np.array([(u - camera.cx) / camera.fx, (v - camera.cy) / camera.fy, 1.0]) * grasp.depth


def q_at(model: GQCNN, depth: np.ndarray, camera: CameraIntrinsics, centre: np.ndarray, angle: float) -> float:
    """q of the grasp with this metric centre and image angle, cut exactly as the planner cuts it."""
    spec = model.crop_spec
    pixel = centre[:2] / centre[2] * (camera.fx, camera.fy) + (camera.cx, camera.cy)
    crops = grasp_aligned_crops(antialias(depth, spec), [pixel], [angle], spec, prefiltered=True)
    return float(model.predict(crops, np.array([centre[2]], np.float32))[0])


@pytest.fixture(scope="module")
def model() -> GQCNN:
    return GQCNN.load(SHIPPED_MODEL, threads=1)


@pytest.fixture(scope="module")
def scenes() -> dict[str, np.ndarray]:
    return {"vga": render(VGA), "hd": render(HD)}


def test_the_same_grasp_gets_the_same_q_at_both_resolutions(model, scenes):
    vga, hd = model.for_camera(VGA), model.for_camera(HD)
    assert (vga.crop_spec.crop_size, hd.crop_spec.crop_size) == (round(96 * 600 / 525), round(96 * 900 / 525))
    grasp = plan("ranking", scenes["vga"], VGA, model, np.random.default_rng(0)).grasp
    centre = centre_m(grasp, VGA)
    q_vga = q_at(vga, scenes["vga"], VGA, centre, grasp.angle)
    q_hd = q_at(hd, scenes["hd"], HD, centre, grasp.angle)
    assert abs(q_hd - q_vga) < 0.05
    # Without scaling the 1280x720 camera shows the network a different footprint: q differs by more.
    unscaled = q_at(model, scenes["hd"], HD, centre, grasp.angle)
    assert abs(unscaled - q_vga) > 0.05


def test_planned_grasps_agree_within_5_mm_10_deg_and_q_0_05(model, scenes):
    # The antipodal sampler draws different candidates at each resolution, so compare the plans of a few seeds.
    results = {}
    for name, camera in (("vga", VGA), ("hd", HD)):
        plans = [plan("ranking", scenes[name], camera, model, np.random.default_rng(seed)) for seed in SEEDS]
        angles = np.array([p.grasp.angle for p in plans])
        results[name] = (
            np.mean([centre_m(p.grasp, camera) for p in plans], axis=0),
            np.angle(np.mean(np.exp(2j * angles))) / 2,  # mean of axes (angle modulo pi)
            np.mean([p.q_value for p in plans]),
        )
    (centre_vga, angle_vga, q_vga), (centre_hd, angle_hd, q_hd) = results["vga"], results["hd"]
    assert np.linalg.norm(centre_hd - centre_vga) < 0.005
    assert abs((np.degrees(angle_hd - angle_vga) + 90) % 180 - 90) < 10
    assert abs(q_hd - q_vga) < 0.05
