"""Ferrari-Canny epsilon quality of parallel-jaw grasps and its robust (Monte Carlo) version, as Dex-Net 2.0.

Frames and units: everything is in the object frame of the mesh passed in, lengths in metres. A grasp is
a centre and a unit axis; the first jaw (contacts[:, 0]) starts at centre - axis * open_width / 2 and
closes along +axis, the second (contacts[:, 1]) starts at centre + axis * open_width / 2 and closes along
-axis. Contact normals are *inward* (into the object). Wrenches are (force, torque * torque_scaling) per
unit jaw force, torques about the centre of mass.
"""

from __future__ import annotations

import numpy as np
import trimesh
from scipy.spatial import ConvexHull, QhullError
from scipy.spatial.transform import Rotation

from dexnet.grasps3d import Grasps3D
from gqcnn_core.gripper import Gripper

NUM_CONE_FACES = 8
# Dex-Net's robust_ferrari_canny config sets torque_scaling: 1000.0 (BerkeleyAutomation/dex-net
# test/config.yaml, metrics.robust_ferrari_canny); its fallback 1 / median(bounding-box max) is only used
# when the key is absent. With 1000 a grasp through the centre of mass is limited by torsional friction
# (pi r^2 mu 1000 = 0.039 at mu 0.5) and epsilon falls roughly as pi r^2 mu / d with the distance d of the
# axis from the centre of mass, so the 0.002 label threshold means d below ~2 cm; the fallback (~30 for
# 4 cm objects) would cap epsilon under 0.002 for every grasp.
TORQUE_SCALING = 1000.0
# Soft-finger contact patch radius for the torsional friction wrench (Dex-Net grasp_matrix default).
FINGER_RADIUS = 0.005

# Pose and friction uncertainty of Dex-Net 2.0's robust epsilon metric (dex-net test/config.yaml,
# metrics.robust_ferrari_canny): grasp_uncertainty sigma_grasp_trans_{x,y,z} 0.005 m and
# sigma_grasp_rot_{x,y,z} 0.001 rad; obj_uncertainty sigma_obj_trans_{x,y,z} 0.01 m and
# sigma_obj_rot_{x,y,z} 0.01 rad; params_uncertainty sigma_friction_coef 0.1 around friction_coef 0.5;
# num_quality_samples 25. Rotations are exponential coordinates (per-axis standard deviations). (Dex-Net's
# ParamsGaussianRV passes sigma_friction_coef to scipy as a variance; we use it as the standard deviation.)
GRASP_TRANS_SIGMA = 0.005
GRASP_ROT_SIGMA = 0.001
OBJECT_TRANS_SIGMA = 0.01
OBJECT_ROT_SIGMA = 0.01

# Contacts must lie this far inside the closing range; hull facets this close to the origin count as 0.
_RANGE_TOLERANCE = 1e-6
_HULL_TOLERANCE = 1e-9
# qhull without facet merging ("Q0") is ~3.5x faster than its default ("Qx") on these 20-point 6-D wrench
# sets and agreed with it to 1e-15 on 3000 random two-contact grasps; on a precision error we retry with
# the default. Never use "Qbb" here: in 6-D it returned wrong facets and leaked into later qhull calls.
_QHULL_FAST_OPTIONS = "Q0"


def find_contacts(
    mesh: trimesh.Trimesh,
    centers: np.ndarray,
    axes: np.ndarray,
    open_width: float | np.ndarray,
    min_width: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Close both jaws of each grasp onto the mesh by ray casting (one batched embree call).

    centers (N, 3) and axes (N, 3) are in the mesh frame (axes need not be unit). A jaw's contact is the
    first surface point on its way from its open position to where the jaws meet at `min_width`.
    Returns contacts (N, 2, 3), inward unit surface normals (N, 2, 3) and a validity mask (N,): a grasp
    is invalid if a jaw meets nothing within its closing range or starts inside the object (its first
    hit is a surface seen from inside). Invalid rows hold NaN.
    """
    centers = np.asarray(centers, dtype=float).reshape(-1, 3)
    axes = _unit(np.asarray(axes, dtype=float).reshape(-1, 3))
    n = len(centers)
    half_open = np.broadcast_to(np.asarray(open_width, dtype=float), (n,)) / 2.0
    contacts = np.full((n, 2, 3), np.nan)
    normals = np.full((n, 2, 3), np.nan)
    valid = np.zeros(n, dtype=bool)
    if n == 0:
        return contacts, normals, valid

    directions = np.stack([axes, -axes], axis=1)  # jaw 1 closes along +axis, jaw 2 along -axis
    origins = centers[:, None, :] - directions * half_open[:, None, None]
    origins, directions = origins.reshape(-1, 3), directions.reshape(-1, 3)
    locations, ray_index, triangle_index = mesh.ray.intersects_location(origins, directions, multiple_hits=False)

    hit = np.zeros(2 * n, dtype=bool)
    face_normals = mesh.face_normals[triangle_index]
    travel = np.einsum("ij,ij->i", locations - origins[ray_index], directions[ray_index])
    reach = np.repeat(half_open - min_width / 2.0, 2)[ray_index]
    from_outside = np.einsum("ij,ij->i", face_normals, directions[ray_index]) < 0
    good = from_outside & (travel <= reach + _RANGE_TOLERANCE)
    hit[ray_index[good]] = True
    flat_contacts = contacts.reshape(-1, 3)
    flat_normals = normals.reshape(-1, 3)
    flat_contacts[ray_index[good]] = locations[good]
    flat_normals[ray_index[good]] = -face_normals[good]
    valid = hit.reshape(n, 2).all(axis=1)
    contacts[~valid] = np.nan
    normals[~valid] = np.nan
    return contacts, normals, valid


def epsilon_quality(
    contacts: np.ndarray,
    normals: np.ndarray,
    friction_coef: float | np.ndarray,
    center_of_mass: np.ndarray,
    closing_directions: np.ndarray | None = None,
    num_cone_faces: int = NUM_CONE_FACES,
    soft_fingers: bool = True,
    finger_radius: float = FINGER_RADIUS,
    torque_scaling: float = TORQUE_SCALING,
) -> np.ndarray:
    """Ferrari-Canny L1 epsilon quality of point-contact grasps, as Dex-Net's `ferrari_canny_L1`.

    contacts (..., C, 3) and inward unit normals (..., C, 3) in the object frame (metres), friction
    coefficient scalar or (...), centre of mass (3,). Each contact's friction cone is linearised by
    `num_cone_faces` edges n + mu * t; with soft fingers each contact adds the torsional wrenches
    +-pi * finger_radius**2 * mu * n. If `closing_directions` (..., C, 3) are given (the direction each
    jaw pushes), forces are scaled by the normal force the jaw can apply and a contact whose push lies
    outside its friction cone slips, which makes the quality 0 (Dex-Net's all_contacts_required).
    Returns (...) float64: the distance from the origin to the nearest facet of the convex hull of the
    contact wrenches if the origin is inside, else 0. NaN contacts and qhull degeneracies give 0.
    """
    contacts = np.asarray(contacts, dtype=float)
    batch_shape = contacts.shape[:-2]
    num_contacts = contacts.shape[-2]
    contacts = contacts.reshape(-1, num_contacts, 3)
    normals = _unit(np.asarray(normals, dtype=float).reshape(contacts.shape))
    count = len(contacts)
    mu = np.broadcast_to(np.asarray(friction_coef, dtype=float), batch_shape).reshape(count)
    quality = np.zeros(count)

    usable = np.isfinite(contacts).all(axis=(1, 2)) & np.isfinite(normals).all(axis=(1, 2)) & (mu > 0)
    force_scale = np.ones((count, num_contacts))
    if closing_directions is not None:
        push = _unit(np.asarray(closing_directions, dtype=float).reshape(contacts.shape))
        normal_push = np.einsum("ncj,ncj->nc", push, normals)
        tangential_push = np.linalg.norm(push - normal_push[..., None] * normals, axis=-1)
        with np.errstate(invalid="ignore"):
            holds = (normal_push > 0) & (tangential_push <= mu[:, None] * normal_push)
        usable &= holds.all(axis=1)
        force_scale = np.clip(np.nan_to_num(normal_push), 0.0, None)
    if not usable.any():
        return quality.reshape(batch_shape)

    idx = np.flatnonzero(usable)
    wrenches = _contact_wrenches(
        contacts[idx],
        normals[idx],
        mu[idx],
        force_scale[idx],
        np.asarray(center_of_mass, dtype=float),
        num_cone_faces,
        finger_radius if soft_fingers else None,
        torque_scaling,
    )
    for row, points in zip(idx, wrenches, strict=True):
        quality[row] = _origin_depth_in_hull(points)
    return quality.reshape(batch_shape)


def robust_epsilon_quality(
    mesh: trimesh.Trimesh,
    grasps: Grasps3D,
    gripper: Gripper,
    rng: np.random.Generator,
    num_samples: int = 25,
    friction_mean: float = 0.5,
    friction_std: float = 0.1,
    grasp_trans_sigma: float = GRASP_TRANS_SIGMA,
    grasp_rot_sigma: float = GRASP_ROT_SIGMA,
    object_trans_sigma: float = OBJECT_TRANS_SIGMA,
    object_rot_sigma: float = OBJECT_ROT_SIGMA,
    center_of_mass: np.ndarray | None = None,
    torque_scaling: float = TORQUE_SCALING,
    finger_radius: float = FINGER_RADIUS,
) -> np.ndarray:
    """Robust epsilon quality (N,) float32: the mean epsilon quality over Monte Carlo perturbations.

    Each of `num_samples` samples per grasp perturbs the gripper pose (centre + N(0, grasp_trans_sigma)
    per axis in metres, axis rotated by exponential coordinates ~ N(0, grasp_rot_sigma) rad), the object
    pose (rotation ~ N(0, object_rot_sigma) about its centre of mass, translation ~ N(0,
    object_trans_sigma)) and the friction coefficient (N(friction_mean, friction_std) clipped to [0, 1]),
    then closes the jaws from `gripper.max_width` on the perturbed configuration. Samples without two
    contacts, or with a slipping contact, score 0. Grasps are in the mesh (object) frame; the centre of
    mass defaults to `mesh.center_mass`. Deterministic for a given rng state.
    """
    centers = np.asarray(grasps.centers, dtype=float).reshape(-1, 3)
    axes = _unit(np.asarray(grasps.axes, dtype=float).reshape(-1, 3))
    n, s = len(centers), int(num_samples)
    if n == 0 or s <= 0:
        return np.zeros(n, dtype=np.float32)
    com = np.asarray(mesh.center_mass if center_of_mass is None else center_of_mass, dtype=float)

    # All random draws up front, in a fixed order, so results depend only on the rng state.
    grasp_shift = rng.normal(0.0, grasp_trans_sigma, (n, s, 3))
    grasp_turn = rng.normal(0.0, grasp_rot_sigma, (n * s, 3))
    object_shift = rng.normal(0.0, object_trans_sigma, (n, s, 3))
    object_turn = rng.normal(0.0, object_rot_sigma, (n * s, 3))
    friction = np.clip(rng.normal(friction_mean, friction_std, (n, s)), 0.0, 1.0)

    # Perturb the gripper in the nominal object frame, then express it in the perturbed object's frame
    # (moving the object by (R, t) about its centre of mass == moving the gripper by the inverse).
    world_centers = centers[:, None, :] + grasp_shift
    world_axes = Rotation.from_rotvec(grasp_turn).apply(np.repeat(axes, s, axis=0))
    object_rotation = Rotation.from_rotvec(object_turn)
    sample_centers = object_rotation.inv().apply((world_centers - com - object_shift).reshape(-1, 3)) + com
    sample_axes = object_rotation.inv().apply(world_axes)

    contacts, normals, valid = find_contacts(mesh, sample_centers, sample_axes, gripper.max_width, gripper.min_width)
    closing = np.stack([sample_axes, -sample_axes], axis=1)
    quality = np.zeros(n * s)
    if valid.any():
        quality[valid] = epsilon_quality(
            contacts[valid],
            normals[valid],
            friction.reshape(-1)[valid],
            com,
            closing_directions=closing[valid],
            finger_radius=finger_radius,
            torque_scaling=torque_scaling,
        )
    return quality.reshape(n, s).mean(axis=1).astype(np.float32)


def _contact_wrenches(
    contacts: np.ndarray,
    normals: np.ndarray,
    mu: np.ndarray,
    force_scale: np.ndarray,
    center_of_mass: np.ndarray,
    num_cone_faces: int,
    finger_radius: float | None,
    torque_scaling: float,
) -> np.ndarray:
    """Wrench points (M, P, 6) of M grasps: friction cone edges of every contact plus soft-finger torsion."""
    tangent_1, tangent_2 = tangents(normals)
    angles = 2.0 * np.pi * np.arange(num_cone_faces) / num_cone_faces
    rim = np.cos(angles)[:, None] * tangent_1[..., None, :] + np.sin(angles)[:, None] * tangent_2[..., None, :]
    forces = normals[..., None, :] + mu[:, None, None, None] * rim  # (M, C, faces, 3)
    forces *= force_scale[..., None, None]
    arms = (contacts - center_of_mass)[..., None, :]
    torques = np.cross(arms, forces) * torque_scaling
    wrenches = np.concatenate([forces, torques], axis=-1).reshape(len(contacts), -1, 6)
    if finger_radius is None:
        return wrenches
    torsion = (np.pi * finger_radius**2 * torque_scaling) * mu[:, None, None] * normals * force_scale[..., None]
    torsion_wrenches = np.concatenate([np.zeros_like(torsion), torsion], axis=-1)  # (M, C, 6)
    return np.concatenate([wrenches, torsion_wrenches, -torsion_wrenches], axis=1)


def _origin_depth_in_hull(points: np.ndarray) -> float:
    """Distance from the origin to the nearest facet of the hull of `points`, or 0 if not strictly inside."""
    try:
        hull = ConvexHull(points, qhull_options=_QHULL_FAST_OPTIONS)
    except QhullError:
        try:
            hull = ConvexHull(points)
        except (QhullError, ValueError):  # degenerate wrench sets (e.g. lower-dimensional) have no volume
            return 0.0
    except ValueError:
        return 0.0
    # Facet equations are unit normal . x + offset <= 0 inside, so -offset is the origin's facet distance.
    depth = -hull.equations[:, -1].max()
    return float(depth) if depth > _HULL_TOLERANCE else 0.0


def tangents(normals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit tangents (..., 3) forming a right-handed frame (t1, t2, n) with each unit normal (..., 3)."""
    helper = np.zeros_like(normals)
    smallest = np.argmin(np.abs(normals), axis=-1)
    np.put_along_axis(helper, smallest[..., None], 1.0, axis=-1)
    tangent_1 = _unit(np.cross(normals, helper))
    tangent_2 = np.cross(normals, tangent_1)
    return tangent_1, tangent_2


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norms > 0, vectors / norms, np.nan)
