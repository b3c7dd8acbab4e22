"""Antipodal grasp sampling and the Grasps3D container."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from dexnet.antipodal import GRASP_DISTANCE_ALPHA, Grasps3D, sample_antipodal_grasps
from dexnet.mesh import load_object, pybullet_object_paths
from gqcnn_core.gripper import Gripper

GRIPPER = Gripper()
FRICTION = 0.6


def inward_normals(mesh: trimesh.Trimesh, points: np.ndarray) -> np.ndarray:
    _, _, faces = trimesh.proximity.closest_point(mesh, points)
    return -mesh.face_normals[faces]


def assert_antipodal(mesh: trimesh.Trimesh, grasps: Grasps3D, friction: float = FRICTION) -> None:
    assert len(grasps) > 0
    np.testing.assert_allclose(np.linalg.norm(grasps.axes, axis=1), 1.0, atol=1e-9)
    np.testing.assert_allclose(grasps.centers, grasps.contacts.mean(axis=1), atol=1e-9)
    np.testing.assert_allclose(grasps.widths, np.linalg.norm(grasps.contacts[:, 1] - grasps.contacts[:, 0], axis=1))
    assert np.all(grasps.widths <= GRIPPER.max_width) and np.all(grasps.widths >= GRIPPER.min_width)
    # contacts on the surface, and each inside the other's friction cone
    _, distance, _ = trimesh.proximity.closest_point(mesh, grasps.contacts.reshape(-1, 3))
    assert distance.max() < 1e-7
    normals = inward_normals(mesh, grasps.contacts.reshape(-1, 3)).reshape(-1, 2, 3)
    line = grasps.contacts[:, 1] - grasps.contacts[:, 0]
    line /= np.linalg.norm(line, axis=1, keepdims=True)
    cos_cone = np.cos(np.arctan(friction))
    assert np.all(np.einsum("ij,ij->i", normals[:, 0], line) >= cos_cone - 1e-9)
    assert np.all(np.einsum("ij,ij->i", normals[:, 1], -line) >= cos_cone - 1e-9)


def test_box_grasps_are_antipodal_across_the_only_narrow_side():
    mesh = trimesh.creation.box([0.03, 0.06, 0.08])  # only x fits in the 5 cm gripper
    grasps = sample_antipodal_grasps(mesh, GRIPPER, np.random.default_rng(0), max_grasps=60)
    assert len(grasps) == 60
    assert_antipodal(mesh, grasps)
    np.testing.assert_allclose(np.abs(grasps.contacts[:, :, 0]), 0.015, atol=1e-9)  # on the two x faces
    assert grasps.widths.min() >= 0.03 - 1e-9


def test_cylinder_grasps_are_antipodal():
    mesh = trimesh.creation.cylinder(radius=0.015, height=0.1, sections=64)
    grasps = sample_antipodal_grasps(mesh, GRIPPER, np.random.default_rng(1), max_grasps=50)
    assert len(grasps) == 50
    assert_antipodal(mesh, grasps)
    radial = grasps.axes[:, :2]
    assert np.all(np.linalg.norm(radial, axis=1) > np.cos(np.arctan(FRICTION)))  # across the round side


def test_real_mesh_grasps_are_antipodal_and_spread_out():
    mesh = load_object(pybullet_object_paths()[0], GRIPPER)
    grasps = sample_antipodal_grasps(mesh, GRIPPER, np.random.default_rng(2), max_grasps=100)
    assert len(grasps) == 100
    assert_antipodal(mesh, grasps)
    min_distance = 0.005
    for i in range(len(grasps)):
        others = np.arange(len(grasps)) != i
        center_distance = np.linalg.norm(grasps.centers[others] - grasps.centers[i], axis=1)
        axis_angle = np.arccos(np.clip(np.abs(grasps.axes[others] @ grasps.axes[i]), 0, 1)) / (np.pi / 2)
        assert np.min(center_distance + GRASP_DISTANCE_ALPHA * axis_angle) >= min_distance - 1e-12


def test_no_grasps_on_an_object_wider_than_the_gripper():
    mesh = trimesh.creation.box([0.06, 0.07, 0.08])
    grasps = sample_antipodal_grasps(mesh, GRIPPER, np.random.default_rng(0), max_grasps=20)
    assert len(grasps) == 0
    assert grasps.centers.shape == (0, 3) and grasps.contacts.shape == (0, 2, 3)


def test_sampling_is_deterministic_for_a_seed():
    mesh = trimesh.creation.box([0.03, 0.04, 0.08])
    first = sample_antipodal_grasps(mesh, GRIPPER, np.random.default_rng(5), max_grasps=30)
    second = sample_antipodal_grasps(mesh, GRIPPER, np.random.default_rng(5), max_grasps=30)
    other = sample_antipodal_grasps(mesh, GRIPPER, np.random.default_rng(6), max_grasps=30)
    for field in ("centers", "axes", "widths", "contacts"):
        np.testing.assert_array_equal(getattr(first, field), getattr(second, field))
    assert not np.array_equal(first.centers, other.centers)


def test_grasps3d_indexing_and_transform():
    grasps = sample_antipodal_grasps(
        trimesh.creation.box([0.03, 0.04, 0.08]), GRIPPER, np.random.default_rng(0), max_grasps=10
    )
    assert len(grasps[3]) == 1 and len(grasps[2:5]) == 3 and len(grasps[np.array([0, 9])]) == 2
    mask = grasps.widths < np.median(grasps.widths)
    np.testing.assert_array_equal(grasps[mask].widths, grasps.widths[mask])

    transform = trimesh.transformations.random_rotation_matrix(np.random.default_rng(1).random(3))
    transform[:3, 3] = [0.1, -0.2, 0.3]
    moved = grasps.transformed(transform)
    np.testing.assert_allclose(moved.centers, trimesh.transform_points(grasps.centers, transform))
    np.testing.assert_allclose(moved.axes, grasps.axes @ transform[:3, :3].T)
    np.testing.assert_allclose(moved.widths, np.linalg.norm(moved.contacts[:, 1] - moved.contacts[:, 0], axis=1))
    back = moved.transformed(np.linalg.inv(transform))
    np.testing.assert_allclose(back.contacts, grasps.contacts, atol=1e-12)

    with pytest.raises(ValueError, match="length"):
        Grasps3D(np.zeros((2, 3)), np.zeros((3, 3)), np.zeros(2), np.zeros((2, 2, 3)))
