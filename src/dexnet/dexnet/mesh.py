"""Object meshes: where to find them, how to load and normalise them as Dex-Net does, and stable poses.

Loaded objects live in their *object frame*: principal axes along x, y, z, bounding box centred on the
origin, uniformly rescaled so the smallest bounding-box extent is `target_min_extent` (Dex-Net's
`obj_target_scale: 0.04`, `obj_scaling_mode: min`; dataset v2 draws it per object with
`sample_target_min_extent`), and the centre of mass set to the bounding-box centre (the origin; Dex-Net's
`use_uniform_com`). Meshes already in metres can keep their size (`keep_scale`). Lengths are metres.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import trimesh

from gqcnn_core.gripper import Gripper
from gqcnn_core.mesh_file import MESH_SUFFIXES, MeshFileError, read_mesh_file

__all__ = ["MESH_SUFFIXES", "MeshError", "load_object", "sample_target_min_extent", "stable_poses"]

# Dataset v2 object scale: smallest side log-uniform in this range (metres), so thin and flat objects
# (1-2 cm) are as common per octave as chunky ones; the largest side is then capped at MAX_EXTENT.
MIN_EXTENT_RANGE = (0.01, 0.06)
MAX_EXTENT = 0.25
# An object shrunk to fit MAX_EXTENT whose smallest side falls below this is a sheet or a wire: skipped.
THINNEST_SIDE = 0.004

# Convex parts are inflated by this fraction of the object's size before their union, to weld parts that
# only touch across a hairline gap (the pybullet objects are V-HACD pieces with gaps of ~0.02 % of size).
WELD_FRACTION = 1e-3
# Disconnected pieces holding at most this fraction of the volume together are debris and are dropped;
# more than that and the file holds several objects (measured on pybullet's objects: 18 of 1000 have
# pieces separated by 3-60 % of their size).
DEBRIS_VOLUME_FRACTION = 0.05
# Open surface patches (stray triangles) covering at most this fraction of the area are dropped.
DEBRIS_AREA_FRACTION = 0.01


class MeshError(ValueError):
    """A mesh that cannot be used as a grasping object; the message says why (for the caller to log)."""


def pybullet_object_paths() -> list[Path]:
    """The visual meshes of the 1000 objects in pybullet_data/random_urdfs, sorted by object directory.

    Each object's URDF names its visual mesh; that file is returned (collision-only meshes are not).
    """
    import pybullet_data

    root = Path(pybullet_data.getDataPath()) / "random_urdfs"
    if not root.is_dir():
        raise FileNotFoundError(f"pybullet_data has no random_urdfs directory at {root}")
    paths = []
    for urdf in sorted(root.glob("*/*.urdf")):
        mesh = ET.parse(urdf).getroot().find("./link/visual/geometry/mesh")
        if mesh is None or not mesh.get("filename"):
            continue
        path = urdf.parent / mesh.get("filename")
        if path.is_file():
            paths.append(path)
    return paths


def user_mesh_paths(directory: str | Path) -> list[Path]:
    """All .obj/.stl/.ply files under `directory` (recursively, any letter case), sorted."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"mesh directory not found: {directory}")
    return sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix.lower() in MESH_SUFFIXES)


def sample_target_min_extent(rng: np.random.Generator, low: float = MIN_EXTENT_RANGE[0],
                             high: float = MIN_EXTENT_RANGE[1]) -> float:
    """An object's smallest side (metres), log-uniform in [low, high] (dataset v2's scale distribution)."""
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def load_object(
    path: str | Path,
    gripper: Gripper,
    target_min_extent: float = 0.04,
    max_extent: float = MAX_EXTENT,
    max_faces: int = 200_000,
    keep_scale: bool = False,
    fit_max_extent: bool = False,
) -> trimesh.Trimesh:
    """Load, repair and normalise one object mesh into its object frame (see module docstring).

    Scaling: by default the smallest extent becomes `target_min_extent`; with `fit_max_extent` an object
    whose largest extent would then exceed `max_extent` is shrunk until it fits (instead of being refused);
    with `keep_scale` the file's units are taken as metres and the size is kept.

    Repair: merge duplicate vertices, drop degenerate and duplicate triangles, fill small holes, fix
    winding; watertight parts are welded into one volume by a boolean union (manifold3d). Raises MeshError
    when the file cannot be read, has no closed volume after repair, falls apart into several large
    pieces, or is too large (largest extent above `max_extent` metres once scaled) or too thin. Raises
    ValueError if `target_min_extent` is not a length between 0 and `max_extent`. The mesh's metadata records its
    "name" (file stem), "source" (path) and "scale" (factor applied to the file's units).
    """
    if not keep_scale and not 0 < target_min_extent <= max_extent:
        raise ValueError(f"target_min_extent {target_min_extent} m must be positive and at most max_extent "
                         f"{max_extent} m (lengths are metres)")
    path = Path(path)
    mesh = _read_mesh(path, max_faces)
    with np.errstate(divide="ignore", invalid="ignore"):  # mass properties of open debris parts divide by 0
        mesh = _repair(mesh)

    mesh.apply_transform(_principal_axes_transform(mesh))
    mesh.apply_translation(-mesh.bounds.mean(axis=0))
    scale = 1.0 if keep_scale else target_min_extent / mesh.extents.min()
    if fit_max_extent and not keep_scale:
        scale = min(scale, max_extent / mesh.extents.max())
    mesh.apply_scale(scale)
    if mesh.extents.max() > max_extent * (1 + 1e-9):
        what = "as given" if keep_scale else f"once its smallest side is {target_min_extent} m"
        raise MeshError(f"too large: {mesh.extents.max():.3f} m long {what} (limit {max_extent} m)")
    if fit_max_extent and mesh.extents.min() < THINNEST_SIDE:
        raise MeshError(f"too thin: smallest side {mesh.extents.min() * 1000:.1f} mm once its largest side fits "
                        f"{max_extent} m (limit {THINNEST_SIDE * 1000:.0f} mm)")
    mesh.center_mass = np.zeros(3)
    if not _inside_convex_hull(mesh, mesh.center_mass):
        raise MeshError("centre of mass (bounding-box centre) lies outside the convex hull: no stable pose")
    mesh.metadata["name"] = path.stem
    mesh.metadata["source"] = str(path)
    mesh.metadata["scale"] = float(scale)
    return mesh


def stable_poses(
    mesh: trimesh.Trimesh, min_probability: float = 0.05, max_poses: int = 5
) -> list[tuple[np.ndarray, float]]:
    """Resting poses of `mesh` on the table plane z = 0 and their probabilities, most probable first.

    Each pose is a 4x4 transform from the object frame to the table frame (z up, table at z = 0): the
    object's lowest point touches z = 0 and its centre of mass is above the table origin (x = y = 0).
    Probabilities are trimesh's quasi-static drop probabilities (they sum to 1 over all poses, before the
    `min_probability` and `max_poses` filters).
    """
    center_mass = np.asarray(mesh.center_mass, dtype=float)
    # trimesh loops forever when the centre of mass is outside the hull, so refuse that case here.
    if not _inside_convex_hull(mesh, center_mass):
        raise MeshError("centre of mass lies outside the convex hull: no stable pose")
    transforms, probabilities = trimesh.poses.compute_stable_poses(mesh, center_mass=center_mass)
    poses = []
    for transform, probability in zip(transforms, probabilities, strict=True):
        if probability < min_probability or len(poses) >= max_poses:
            continue
        transform = np.array(transform, dtype=float)
        transform[:2, 3] -= (transform[:3, :3] @ center_mass + transform[:3, 3])[:2]
        poses.append((transform, float(probability)))
    return poses


def _read_mesh(path: Path, max_faces: int) -> trimesh.Trimesh:
    try:
        return read_mesh_file(path, max_faces)
    except MeshFileError as err:
        raise MeshError(str(err)) from err


def _repair(mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    """One closed, consistently wound volume from a possibly messy mesh, or MeshError."""
    mesh = mesh.copy()
    mesh.merge_vertices(merge_tex=True, merge_norm=True)
    mesh.update_faces(mesh.nondegenerate_faces())
    mesh.update_faces(mesh.unique_faces())
    mesh.remove_unreferenced_vertices()
    size = float(np.linalg.norm(mesh.extents)) if len(mesh.faces) else 0.0
    if len(mesh.faces) < 4 or size <= 1e-9 or min(mesh.extents) <= 1e-6 * size:
        raise MeshError("degenerate geometry (flat, a point, or fewer than 4 triangles)")

    parts = mesh.split(only_watertight=False)
    closed = []
    open_area = 0.0
    for part in parts:
        if not part.is_watertight:
            trimesh.repair.fill_holes(part)
        if part.is_watertight:
            trimesh.repair.fix_winding(part)
            trimesh.repair.fix_inversion(part)
            if part.volume > 0:
                closed.append(part)
                continue
        hull = _closing_convex_hull(part, tolerance=1e-6 * size)
        if hull is not None:
            closed.append(hull)
        else:
            open_area += part.area
    if not closed:
        raise MeshError(f"not watertight after repair ({len(parts)} open part(s))")
    if open_area > DEBRIS_AREA_FRACTION * mesh.area:
        raise MeshError(f"not watertight after repair ({open_area / mesh.area:.0%} of the surface is open)")

    if len(closed) > 1:
        closed = [_inflate_convex(part, WELD_FRACTION * size) for part in closed]
        try:
            welded = trimesh.boolean.union(closed, engine="manifold")
        except Exception as err:  # manifold rejects non-manifold input
            raise MeshError(f"boolean union of {len(closed)} parts failed: {err}") from err
    else:
        welded = closed[0]
    bodies = welded.split(only_watertight=False) if len(welded.faces) else []
    if not bodies:
        raise MeshError("empty after boolean union")
    volumes = np.array([abs(body.volume) for body in bodies])
    if len(bodies) > 1 and np.sort(volumes)[:-1].sum() > DEBRIS_VOLUME_FRACTION * volumes.sum():
        raise MeshError(f"{len(bodies)} disconnected pieces (largest holds {volumes.max() / volumes.sum():.0%})")
    body = bodies[int(np.argmax(volumes))]
    if not body.is_volume:
        raise MeshError("not a closed, consistently wound volume after repair")
    return body


def _principal_axes_transform(mesh: trimesh.Trimesh) -> np.ndarray:
    """4x4 transform putting the solid's principal axes of inertia on x, y, z.

    When two principal moments (nearly) coincide, as for cylinders or square bars, inertia leaves the axes
    free to turn; then the minimum-volume oriented bounding box fixes them, so the box stays tight.
    """
    moments = np.sort(mesh.principal_inertia_components)
    if np.any(np.diff(moments) <= 1e-3 * moments[-1]):
        transform, _ = trimesh.bounds.oriented_bounds(mesh)
        return transform
    return mesh.principal_inertia_transform


def _closing_convex_hull(part: trimesh.Trimesh, tolerance: float) -> trimesh.Trimesh | None:
    """The convex hull of an open part whose vertices all lie on that hull (a convex shell with holes, as
    V-HACD pieces with missing triangles are) and that covers at least half of it; else None."""
    if len(part.vertices) < 4:
        return None
    try:
        hull = part.convex_hull
    except Exception:  # qhull: flat or too few points
        return None
    if not hull.is_volume or part.area < 0.5 * hull.area:
        return None
    plane_offsets = np.einsum("ij,ij->i", hull.face_normals, hull.triangles_center)
    plane_distance = part.vertices @ hull.face_normals.T - plane_offsets
    return hull if np.all(np.abs(plane_distance.max(axis=1)) <= tolerance) else None


def _inflate_convex(part: trimesh.Trimesh, distance: float) -> trimesh.Trimesh:
    """Grow a convex part by about `distance` (Minkowski sum with a small cube); other parts are unchanged."""
    if distance <= 0 or not part.is_convex:
        return part
    corners = np.array(np.meshgrid([-1, 1], [-1, 1], [-1, 1])).reshape(3, -1).T * (distance / np.sqrt(3))
    return trimesh.convex.convex_hull((part.vertices[:, None, :] + corners[None]).reshape(-1, 3))


def _inside_convex_hull(mesh: trimesh.Trimesh, point: np.ndarray, margin: float = 1e-6) -> bool:
    hull = mesh.convex_hull
    signed = np.einsum("ij,ij->i", point - hull.triangles_center, hull.face_normals)
    return bool(np.all(signed < -margin * float(np.linalg.norm(mesh.extents))))
