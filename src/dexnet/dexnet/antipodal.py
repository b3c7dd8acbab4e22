"""Antipodal parallel-jaw grasp candidates on a mesh, by rejection sampling as Dex-Net's antipodal sampler.

A candidate starts at a surface point, shoots a ray into the object along a direction drawn from the
friction cone around the inward normal, and takes the exit point as the opposite contact. The jaws are
then closed from the gripper's full opening on the resulting grasp (`quality.find_contacts`) and the
grasp is kept if the contacts it really makes are within each other's friction cones and within the
gripper's width. Everything is in the mesh's object frame, lengths in metres.
"""

from __future__ import annotations

import numpy as np
import trimesh

from dexnet.grasps3d import Grasps3D
from dexnet.quality import find_contacts, tangents
from gqcnn_core.gripper import Gripper

# Dex-Net's grasp distance: centre distance + GRASP_DISTANCE_ALPHA * (axis angle / (pi / 2)).
GRASP_DISTANCE_ALPHA = 0.05


def sample_antipodal_grasps(
    mesh: trimesh.Trimesh,
    gripper: Gripper,
    rng: np.random.Generator,
    max_grasps: int = 100,
    friction_coef: float = 0.6,
    surface_points: int | None = None,
    directions_per_point: int = 2,
    min_contact_distance: float = 0.0025,
    min_grasp_distance: float = 0.005,
    max_rounds: int = 3,
) -> Grasps3D:
    """Up to `max_grasps` antipodal grasps spread over the mesh surface (object frame, metres).

    Each round draws `surface_points` (default 10 * max_grasps) evenly spread surface points, tries
    `directions_per_point` axes from each point's friction cone (friction_coef), closes the jaws on every
    candidate and keeps those whose real contacts are antipodal (each inward normal within arctan(mu) of
    the line to the other contact) and `min_contact_distance`..`gripper.max_width` apart. Grasps closer
    than `min_grasp_distance` to an already kept one (Dex-Net's distance: centre distance + 0.05 * axis
    angle / 90 deg) are dropped, so grasps spread over the surface. Rounds repeat with twice the points
    until enough grasps are found. Deterministic for a given rng state.
    """
    if max_grasps <= 0:
        return Grasps3D.empty()
    count = int(surface_points or 10 * max_grasps)
    kept = Grasps3D.empty()
    for _ in range(max_rounds):
        candidates = _antipodal_candidates(
            mesh, gripper, rng, count, directions_per_point, friction_coef, min_contact_distance
        )
        kept = _spread(kept, candidates, max_grasps, min_grasp_distance)
        if len(kept) >= max_grasps:
            break
        count *= 2
    return kept


def _antipodal_candidates(
    mesh: trimesh.Trimesh,
    gripper: Gripper,
    rng: np.random.Generator,
    count: int,
    directions_per_point: int,
    friction_coef: float,
    min_contact_distance: float,
) -> Grasps3D:
    # Evenly spread points: oversample, then drop points closer than the spacing of `count` even points
    # (trimesh's sample_surface_even, without its warning when fewer than `count` remain).
    points, faces = trimesh.sample.sample_surface(mesh, 3 * count, seed=rng)
    points, spread = trimesh.points.remove_close(points, np.sqrt(mesh.area / (3 * count)))
    points, faces = points[:count], faces[spread][:count]
    if len(points) == 0:
        return Grasps3D.empty()
    order = rng.permutation(len(points))  # random order: the spreading filter favours earlier grasps
    points, faces = points[order], faces[order]
    inward = -mesh.face_normals[faces]

    # Directions n + r (cos t t1 + sin t t2), r ~ U(0, mu): Dex-Net's friction cone proposal.
    k = directions_per_point
    tangent_1, tangent_2 = tangents(inward)
    radius = friction_coef * rng.random((len(points), k, 1))
    angle = 2.0 * np.pi * rng.random((len(points), k, 1))
    directions = inward[:, None] + radius * (np.cos(angle) * tangent_1[:, None] + np.sin(angle) * tangent_2[:, None])
    directions = (directions / np.linalg.norm(directions, axis=-1, keepdims=True)).reshape(-1, 3)
    starts = np.repeat(points, k, axis=0)

    # The opposite contact is where the ray leaves the object (a hit seen from inside).
    skip = 1e-5 * float(np.linalg.norm(mesh.extents))  # step off the start face to avoid hitting it
    exits, ray_index, triangle_index = mesh.ray.intersects_location(
        starts + directions * skip, directions, multiple_hits=False
    )
    leaving = np.einsum("ij,ij->i", mesh.face_normals[triangle_index], directions[ray_index]) > 0
    ray_index, exits = ray_index[leaving], exits[leaving]
    widths = np.linalg.norm(exits - starts[ray_index], axis=1)
    fits = (widths >= max(min_contact_distance, gripper.min_width)) & (widths <= gripper.max_width)
    ray_index, exits = ray_index[fits], exits[fits]
    if len(ray_index) == 0:
        return Grasps3D.empty()
    centers = (starts[ray_index] + exits) / 2.0
    axes = directions[ray_index]

    # Close the jaws from full opening; the contacts they really make may differ from the sampled pair.
    contacts, normals, valid = find_contacts(mesh, centers, axes, gripper.max_width, gripper.min_width)
    centers, axes, contacts, normals = centers[valid], axes[valid], contacts[valid], normals[valid]
    # Re-centre between the real contacts and close again: the kept grasp must reproduce its contacts.
    centers = contacts.mean(axis=1)
    again, normals, valid = find_contacts(mesh, centers, axes, gripper.max_width, gripper.min_width)
    same = valid & (np.linalg.norm(again - contacts, axis=-1).max(axis=-1, initial=0.0) < 1e-6)
    centers, axes, contacts, normals = centers[same], axes[same], contacts[same], normals[same]

    widths = np.linalg.norm(contacts[:, 1] - contacts[:, 0], axis=1)
    cos_cone = 1.0 / np.sqrt(1.0 + friction_coef**2)
    antipodal = (
        (np.einsum("ij,ij->i", normals[:, 0], axes) >= cos_cone)
        & (np.einsum("ij,ij->i", normals[:, 1], -axes) >= cos_cone)
        & (widths >= max(min_contact_distance, gripper.min_width))
        & (widths <= gripper.max_width)
    )
    return Grasps3D(centers[antipodal], axes[antipodal], widths[antipodal], contacts[antipodal])


def _spread(kept: Grasps3D, candidates: Grasps3D, max_grasps: int, min_distance: float) -> Grasps3D:
    """Greedily add candidates (in order) that are at least `min_distance` from every kept grasp."""
    centers, axes = list(kept.centers), list(kept.axes)
    chosen = []
    for i in range(len(candidates)):
        if len(centers) >= max_grasps:
            break
        if centers:
            center_distance = np.linalg.norm(np.asarray(centers) - candidates.centers[i], axis=1)
            axis_cos = np.clip(np.abs(np.asarray(axes) @ candidates.axes[i]), 0.0, 1.0)
            distance = center_distance + GRASP_DISTANCE_ALPHA * np.arccos(axis_cos) / (np.pi / 2)
            if distance.min() < min_distance:
                continue
        centers.append(candidates.centers[i])
        axes.append(candidates.axes[i])
        chosen.append(i)
    added = candidates[np.asarray(chosen, dtype=int)]
    return Grasps3D(
        np.concatenate([kept.centers, added.centers]),
        np.concatenate([kept.axes, added.axes]),
        np.concatenate([kept.widths, added.widths]),
        np.concatenate([kept.contacts, added.contacts]),
    )
