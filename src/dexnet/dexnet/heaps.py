"""Heaps of objects for the dataset (Dex-Net 2.1 style): several objects dropped onto the table and settled.

`settle_heap` drops the objects in random orientations from staggered heights over a square area centred on
the table origin and lets MuJoCo settle them; it returns each object's resting pose. It is deliberately cheap:
a standalone MJCF holding only a floor plane and one free body per object, collision shapes are the objects'
convex hulls (MuJoCo's mesh collision), no robot. A concave object may therefore rest a few millimetres off
its true surface; the labels do not depend on that (the grasps are labelled on each object alone, collision
is checked on the rendered geometry).

`choose_heap` picks a heap's objects deterministically from one split, so heaps never mix training and test
objects and the object-wise split holds for heaps too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh
from scipy.spatial.transform import Rotation

from dexnet import dataset

HEAP_AREA = 0.2  # side of the square drop area (m), centred on the table origin
DENSITY = 500.0  # kg/m^3, a typical household object; only the settling dynamics depend on it
SETTLE_TIME = 2.0  # simulated seconds
TIMESTEP = 0.002


@dataclass(frozen=True)
class HeapPlan:
    """Which objects a heap holds; derived from (seed, heap id) and the objects available per split."""

    id: int
    split: str
    object_ids: tuple[int, ...]


def heap_split(heap_id: int) -> str:
    """The split of a heap, by the same hash as objects (80/10/10), independent of the heap count."""
    return dataset.object_split(f"heap/{heap_id:06d}")


def choose_heap(heap_id: int, seed: int, objects_by_split: dict[str, list[int]], sizes: tuple[int, int]
                ) -> HeapPlan | None:
    """The objects of heap `heap_id`: a size uniform in [sizes[0], sizes[1]] drawn without replacement from
    the usable objects of the heap's split (sorted ids). None when the split has too few objects."""
    split = heap_split(heap_id)
    candidates = sorted(objects_by_split.get(split, []))
    rng = np.random.default_rng([seed, 7919, heap_id])  # a stream of its own, apart from the objects'
    size = int(rng.integers(sizes[0], sizes[1] + 1))
    if len(candidates) < size:
        return None
    chosen = rng.choice(candidates, size=size, replace=False)
    return HeapPlan(heap_id, split, tuple(int(i) for i in chosen))


def _mesh_asset(name: str, mesh: trimesh.Trimesh) -> str:
    hull = mesh.convex_hull
    vertices = " ".join(f"{v:.6f}" for v in hull.vertices.reshape(-1))
    faces = " ".join(str(int(f)) for f in hull.faces.reshape(-1))
    return f'<mesh name="{name}" vertex="{vertices}" face="{faces}"/>'


def heap_mjcf(meshes: list[trimesh.Trimesh], starts: list[np.ndarray]) -> str:
    """MJCF of a floor at z = 0 and one free body per object (convex hull) at its start pose."""
    assets, bodies = [], []
    for i, (mesh, start) in enumerate(zip(meshes, starts, strict=True)):
        assets.append(_mesh_asset(f"m{i}", mesh))
        quat = Rotation.from_matrix(start[:3, :3]).as_quat()  # x, y, z, w
        pos = " ".join(f"{v:.6f}" for v in start[:3, 3])
        bodies.append(
            f'<body name="o{i}" pos="{pos}" quat="{quat[3]:.6f} {quat[0]:.6f} {quat[1]:.6f} {quat[2]:.6f}">'
            f'<freejoint/><geom type="mesh" mesh="m{i}" density="{DENSITY}" friction="0.6 0.005 0.0001"/></body>')
    return (
        '<mujoco model="heap">'
        f'<option timestep="{TIMESTEP}" gravity="0 0 -9.81"/>'
        f'<asset>{"".join(assets)}</asset>'
        '<worldbody><geom type="plane" size="1 1 0.01" friction="0.6 0.005 0.0001"/>'
        f'{"".join(bodies)}</worldbody></mujoco>'
    )


def settle_heap(meshes: list[trimesh.Trimesh], rng: np.random.Generator, area: float = HEAP_AREA,
                settle_time: float = SETTLE_TIME) -> list[np.ndarray]:
    """Drop `meshes` (object frames, centre of mass at the origin) onto the table z = 0 and settle them.

    Each object starts in a uniformly random orientation at a uniform point of the area, one above the other
    (so they fall onto each other rather than start interpenetrating). Returns each object's 4x4 resting pose
    (world from object frame). Objects that slid off the area stay where they lie (the table is infinite).
    """
    import mujoco

    starts = []
    height = 0.0
    for mesh in meshes:
        rotation = Rotation.random(random_state=rng).as_matrix()
        radius = float(np.linalg.norm(mesh.extents)) / 2.0
        x, y = rng.uniform(-area / 2, area / 2, size=2)
        height += radius + 0.005
        start = np.eye(4)
        start[:3, :3] = rotation
        start[:3, 3] = x, y, height
        height += radius
        starts.append(start)
    model = mujoco.MjModel.from_xml_string(heap_mjcf(meshes, starts))
    data = mujoco.MjData(model)
    steps = int(settle_time / TIMESTEP)
    for step in range(steps):
        mujoco.mj_step(model, data)
        if step > steps // 4 and step % 50 == 0 and np.abs(data.qvel).max() < 1e-3:
            break  # everything at rest
    poses = []
    for i in range(len(meshes)):
        body = model.body(f"o{i}").id
        pose = np.eye(4)
        pose[:3, :3] = data.xmat[body].reshape(3, 3)
        pose[:3, 3] = data.xpos[body]
        poses.append(pose)
    return poses


def heap_mesh(meshes: list[trimesh.Trimesh], poses: list[np.ndarray]) -> trimesh.Trimesh:
    """All objects of a heap in the world frame as one mesh (for rendering and the collision check)."""
    return trimesh.util.concatenate([m.copy().apply_transform(p) for m, p in zip(meshes, poses, strict=True)])
