"""Reading object mesh files as one triangle soup with shared vertices, as the dataset and the sim need them.

Scan datasets ship textured OBJ files in which every vertex on a UV seam (or with several normals) is stored
once per texture coordinate. Read naively, the surface is cut open along every seam and no watertight check
passes. `read_mesh_file` welds vertices that differ only by texture coordinates or normals before anything
else looks at the topology; geometry is untouched.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import trimesh

MESH_SUFFIXES = (".obj", ".stl", ".ply")


class MeshFileError(ValueError):
    """A mesh file that cannot be read as triangles; the message says why."""


def read_mesh_file(path: str | Path, max_faces: int = 200_000) -> trimesh.Trimesh:
    """The triangles of a mesh file, with vertices at equal positions merged (UV and normal seams welded).

    Raises MeshFileError when the file is missing, unreadable, empty, too large or has non-finite vertices.
    """
    path = Path(path)
    if not path.is_file():
        raise MeshFileError(f"file not found: {path}")
    try:
        mesh = trimesh.load(path, force="mesh", process=False)
    except Exception as err:  # trimesh raises many types for malformed files
        raise MeshFileError(f"cannot read mesh: {type(err).__name__}: {err}") from err
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
        raise MeshFileError("no triangles in file")
    if len(mesh.faces) > max_faces:
        raise MeshFileError(f"too many triangles ({len(mesh.faces)} > {max_faces})")
    if not np.isfinite(mesh.vertices).all():
        raise MeshFileError("non-finite (NaN or inf) vertex coordinates")
    # Only positions matter for grasping and physics: drop texture and normals, then merge equal positions.
    welded = trimesh.Trimesh(vertices=np.asarray(mesh.vertices, dtype=float), faces=np.asarray(mesh.faces),
                             process=False)
    welded.merge_vertices(merge_tex=True, merge_norm=True)
    return welded
