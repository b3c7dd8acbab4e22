"""Contact finding, Ferrari-Canny epsilon quality and its robust version on analytic boxes."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from scipy.spatial import ConvexHull

from dexnet.antipodal import Grasps3D
from dexnet.quality import (
    FINGER_RADIUS,
    TORQUE_SCALING,
    epsilon_quality,
    find_contacts,
    robust_epsilon_quality,
)
from gqcnn_core.gripper import Gripper

GRIPPER = Gripper()  # 5 cm stroke
X = np.array([1.0, 0.0, 0.0])


def box(x: float, y: float = 0.06, z: float = 0.08) -> trimesh.Trimesh:
    return trimesh.creation.box([x, y, z])  # centred on the origin, centre of mass at the origin


def grasps(centers, axes) -> Grasps3D:
    centers, axes = np.atleast_2d(centers).astype(float), np.atleast_2d(axes).astype(float)
    axes = axes / np.linalg.norm(axes, axis=1, keepdims=True)
    return Grasps3D(centers, axes, np.zeros(len(centers)), np.zeros((len(centers), 2, 3)))


def test_find_contacts_closes_on_the_parallel_faces():
    contacts, normals, valid = find_contacts(box(0.03), [[0.0, 0.01, -0.02]], [X], GRIPPER.max_width)
    assert valid.tolist() == [True]
    np.testing.assert_allclose(contacts[0], [[-0.015, 0.01, -0.02], [0.015, 0.01, -0.02]], atol=1e-9)
    np.testing.assert_allclose(normals[0], [X, -X], atol=1e-12)  # inward normals


@pytest.mark.parametrize(
    ("mesh", "center", "why"),
    [
        (box(0.06), [0.0, 0.0, 0.0], "object wider than the open gripper: jaws start inside"),
        (box(0.03), [0.0, 0.05, 0.0], "jaws pass beside the object"),
        (box(0.03), [0.012, 0.0, 0.0], "off-centre: one jaw would have to close past the centre"),
    ],
)
def test_find_contacts_rejects_impossible_closings(mesh, center, why):
    contacts, normals, valid = find_contacts(mesh, [center], [X], GRIPPER.max_width)
    assert not valid[0], why
    assert np.isnan(contacts[0]).all() and np.isnan(normals[0]).all()


def test_epsilon_quality_of_antipodal_contacts_is_the_torsion_limit():
    contacts = np.array([[-0.01, 0.0, 0.0], [0.01, 0.0, 0.0]])
    normals = np.array([X, -X])
    quality = epsilon_quality(contacts, normals, 0.5, np.zeros(3))
    # centred soft-finger grasp: the weakest direction is (about) torsion about the axis, pi r^2 mu * scaling
    assert quality == pytest.approx(np.pi * FINGER_RADIUS**2 * 0.5 * TORQUE_SCALING, rel=0.01)
    offset = epsilon_quality(contacts + np.array([0.0, 0.01, 0.0]), normals, 0.5, np.zeros(3))
    assert 0 < offset < quality  # a grasp axis away from the centre of mass resists torques worse


def test_epsilon_quality_is_zero_without_force_closure_and_never_crashes():
    contacts = np.array([[-0.01, 0.0, 0.0], [0.01, 0.0, 0.0]])
    at_45_deg = np.array([[1.0, 1.0, 0.0], [-1.0, 1.0, 0.0]]) / np.sqrt(2)
    closing = np.array([X, -X])
    batch = np.stack([contacts, contacts, contacts, np.zeros((2, 3)), np.full((2, 3), np.nan)])
    normals = np.stack([at_45_deg, np.array([X, -X]), np.array([X, -X]), np.array([X, -X]), np.array([X, -X])])
    friction = np.array([0.5, 0.0, 0.5, 0.5, 0.5])
    quality = epsilon_quality(batch, normals, friction, np.zeros(3), closing_directions=np.stack([closing] * 5))
    # slipping contacts (45 deg > arctan 0.5), no friction (degenerate hull), one point, NaN: all zero
    assert quality.tolist() == [0.0, 0.0, pytest.approx(0.039, abs=5e-4), 0.0, 0.0]


def test_fast_qhull_options_agree_with_qhull_defaults():
    rng = np.random.default_rng(7)
    for _ in range(40):
        contacts = np.array([[-0.01, 0.0, 0.0], [0.01, 0.0, 0.0]]) + rng.normal(0, 0.006, (2, 3))
        normals = np.array([X, -X]) + rng.normal(0, 0.15, (2, 3))
        normals /= np.linalg.norm(normals, axis=1, keepdims=True)
        quality = float(epsilon_quality(contacts, normals, 0.5, np.zeros(3)))
        assert quality == pytest.approx(_reference_epsilon(contacts, normals, 0.5), abs=1e-12)


def test_robust_quality_of_a_centred_box_grasp_is_positive():
    quality = robust_epsilon_quality(box(0.025), grasps([0, 0, 0], X), GRIPPER, np.random.default_rng(0), 100)
    assert quality.dtype == np.float32 and quality.shape == (1,)
    assert quality[0] > 0.002


def test_robust_quality_is_zero_when_the_object_is_wider_than_the_gripper():
    quality = robust_epsilon_quality(box(0.06, 0.06), grasps([0, 0, 0], X), GRIPPER, np.random.default_rng(0))
    assert quality[0] == 0.0


def test_robust_quality_at_a_corner_is_low():
    mesh = box(0.025)
    rng = np.random.default_rng(0)
    centred = robust_epsilon_quality(mesh, grasps([0, 0, 0], X), GRIPPER, rng, 100)[0]
    at_face_corner = robust_epsilon_quality(mesh, grasps([0, 0.03, 0.04], X), GRIPPER, rng, 100)[0]
    across_an_edge = robust_epsilon_quality(mesh, grasps([0.0125, 0.03, 0.0], [1, -1, 0]), GRIPPER, rng, 100)[0]
    assert at_face_corner < 0.002 and at_face_corner < 0.25 * centred
    assert across_an_edge < 0.2 * centred  # the contact normals are 45 degrees off the axis: they slip


def test_robust_quality_is_deterministic_for_a_seed():
    candidates = grasps([[0, 0, 0], [0, 0.01, 0.02], [0, -0.02, 0.0]], [X, X, [1, 0.2, 0]])
    first = robust_epsilon_quality(box(0.03), candidates, GRIPPER, np.random.default_rng(3))
    second = robust_epsilon_quality(box(0.03), candidates, GRIPPER, np.random.default_rng(3))
    other = robust_epsilon_quality(box(0.03), candidates, GRIPPER, np.random.default_rng(4))
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other)
    assert robust_epsilon_quality(box(0.03), Grasps3D.empty(), GRIPPER, np.random.default_rng(0)).shape == (0,)


def _reference_epsilon(contacts: np.ndarray, normals: np.ndarray, mu: float) -> float:
    """Straightforward soft-finger Ferrari-Canny L1 with qhull's default options."""
    points = []
    for point, normal in zip(contacts, normals, strict=True):
        helper = np.eye(3)[np.argmin(np.abs(normal))]
        t1 = np.cross(normal, helper) / np.linalg.norm(np.cross(normal, helper))
        t2 = np.cross(normal, t1)
        for angle in 2 * np.pi * np.arange(8) / 8:
            force = normal + mu * (np.cos(angle) * t1 + np.sin(angle) * t2)
            points.append(np.r_[force, TORQUE_SCALING * np.cross(point, force)])
        torsion = np.pi * FINGER_RADIUS**2 * mu * TORQUE_SCALING * normal
        points += [np.r_[np.zeros(3), torsion], np.r_[np.zeros(3), -torsion]]
    depth = -ConvexHull(np.array(points)).equations[:, -1].max()
    return max(float(depth), 0.0) if depth > 1e-9 else 0.0
