"""Object database and mesh preprocessing: pybullet objects, repair, Dex-Net normalisation, stable poses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh

from dexnet.mesh import (
    MeshError,
    load_object,
    pybullet_object_paths,
    sample_target_min_extent,
    stable_poses,
    user_mesh_paths,
)
from gqcnn_core.gripper import Gripper

GRIPPER = Gripper()


def export(mesh: trimesh.Trimesh, path: Path) -> Path:
    mesh.export(path)
    return path


def test_pybullet_object_paths_are_the_1000_visual_meshes():
    paths = pybullet_object_paths()
    assert len(paths) == 1000
    assert paths == sorted(paths)
    assert all(p.suffix == ".obj" and p.is_file() for p in paths)
    assert all(p.stem == p.parent.name for p in paths)  # random_urdfs/NNN/NNN.obj, not collision meshes
    assert "vhacd" not in " ".join(p.name.lower() for p in paths)


def test_user_mesh_paths_finds_mesh_files_recursively(tmp_path):
    for name in ["b.obj", "a.STL", "c.ply", "notes.txt", "sub/d.obj"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    found = [p.relative_to(tmp_path).as_posix() for p in user_mesh_paths(tmp_path)]
    assert found == ["a.STL", "b.obj", "c.ply", "sub/d.obj"]
    with pytest.raises(FileNotFoundError):
        user_mesh_paths(tmp_path / "missing")


def test_load_real_pybullet_mesh_normalises_it_as_dexnet():
    mesh = load_object(pybullet_object_paths()[0], GRIPPER)
    assert mesh.is_volume and mesh.body_count == 1
    assert mesh.extents.min() == pytest.approx(0.04, abs=1e-9)
    np.testing.assert_allclose(mesh.bounds.mean(axis=0), 0.0, atol=1e-9)  # bounding box centred
    np.testing.assert_allclose(mesh.center_mass, 0.0, atol=1e-12)  # centre of mass = bounding-box centre
    assert mesh.metadata["name"] == "000"
    # principal axes of inertia along x, y, z (the inertia tensor about the volume centroid is diagonal)
    solid = trimesh.Trimesh(mesh.vertices, mesh.faces)  # without the centre-of-mass override
    tensor = np.asarray(solid.moment_inertia)
    assert np.abs(tensor - np.diag(np.diag(tensor))).max() < 1e-6 * np.abs(tensor).max()


def test_load_object_centres_aligns_and_rescales_a_posed_box(tmp_path):
    box = trimesh.creation.box([0.02, 0.03, 0.05])
    box.apply_transform(trimesh.transformations.random_rotation_matrix(np.random.default_rng(0).random(3)))
    box.apply_translation([1.0, 2.0, 3.0])
    mesh = load_object(export(box, tmp_path / "box.stl"), GRIPPER)
    np.testing.assert_allclose(np.sort(mesh.extents), [0.04, 0.06, 0.10], atol=1e-5)  # STL is float32
    np.testing.assert_allclose(mesh.bounds.mean(axis=0), 0.0, atol=1e-9)
    assert mesh.volume == pytest.approx(0.04 * 0.06 * 0.10, rel=1e-4)


def test_load_object_welds_touching_parts_into_one_volume(tmp_path):
    left = trimesh.creation.box([0.02, 0.02, 0.02])
    right = trimesh.creation.box([0.02, 0.02, 0.02])
    right.apply_translation([0.02 + 1e-5, 0.0, 0.0])  # a hairline gap, as between V-HACD pieces
    mesh = load_object(export(trimesh.util.concatenate([left, right]), tmp_path / "two.obj"), GRIPPER)
    assert mesh.is_volume and mesh.body_count == 1
    np.testing.assert_allclose(np.sort(mesh.extents), [0.04, 0.04, 0.08], atol=2e-4)


def test_load_object_fills_a_missing_face(tmp_path):
    box = trimesh.creation.box([0.03, 0.04, 0.05])
    box.update_faces(np.arange(2, len(box.faces)))  # drop one side (two triangles)
    assert not box.is_watertight
    assert load_object(export(box, tmp_path / "open.stl"), GRIPPER).is_volume


@pytest.mark.parametrize(
    ("name", "make", "reason"),
    [
        ("garbage.obj", lambda p: p.write_text("not a mesh\nv 1 2\nf 1 2 3 4\n"), "cannot read"),
        ("empty.obj", lambda p: p.write_text("# nothing here\n"), "triangles"),
        ("nan.obj", lambda p: p.write_text("v nan 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\nf 1 2 3\nf 1 2 4\n"), "NaN"),
        ("flat.stl", lambda p: export(trimesh.creation.box([0.03, 0.03, 1e-9]), p), "degenerate"),
        ("long.stl", lambda p: export(trimesh.creation.box([0.01, 0.01, 0.3]), p), "too large"),
        ("torn.stl", lambda p: export(_torn_torus(), p), "not watertight"),
        ("apart.obj", lambda p: export(_two_apart_boxes(), p), "disconnected"),
    ],
)
def test_unusable_meshes_raise_mesh_error_with_a_reason(tmp_path, name, make, reason):
    path = tmp_path / name
    make(path)
    with pytest.raises(MeshError, match=reason):
        load_object(path, GRIPPER)


def test_missing_file_is_a_mesh_error_and_bad_target_a_value_error(tmp_path):
    with pytest.raises(MeshError, match="not found"):
        load_object(tmp_path / "missing.obj", GRIPPER)
    box = export(trimesh.creation.box([0.03, 0.04, 0.05]), tmp_path / "box.stl")
    with pytest.raises(ValueError, match="metres"):
        load_object(box, GRIPPER, target_min_extent=4.0)  # centimetres by mistake


def _textured_cube_obj(path, size: float = 1.0) -> None:
    """A cube as scan datasets write it: every face has its own texture coordinates, so each corner is
    stored once per face it touches (UV seams on all edges) when read without merging."""
    corners = [(x, y, z) for x in (0, size) for y in (0, size) for z in (0, size)]
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    lines = [f"v {x} {y} {z}" for x, y, z in corners] + ["vt 0 0", "vt 1 0", "vt 1 1", "vt 0 1"]
    lines += ["vn 0 0 1"]
    for a, b, c, d in quads:
        lines.append(f"f {a + 1}/1/1 {b + 1}/2/1 {c + 1}/3/1")
        lines.append(f"f {a + 1}/1/1 {c + 1}/3/1 {d + 1}/4/1")
    path.write_text("\n".join(lines) + "\n")


def test_textured_obj_with_uv_seams_loads_as_a_closed_volume(tmp_path):
    path = tmp_path / "scan.obj"
    _textured_cube_obj(path, size=0.05)
    naive = trimesh.load(path, force="mesh", process=False)
    assert not naive.is_watertight  # the seams really cut the surface open when read naively
    mesh = load_object(path, GRIPPER, keep_scale=True)
    assert mesh.is_volume
    np.testing.assert_allclose(mesh.extents, [0.05, 0.05, 0.05], atol=1e-9)  # metres kept
    assert mesh.metadata["scale"] == 1.0


def test_the_sim_loads_the_same_scan_as_a_closed_volume(tmp_path):
    from yumi_bridge.sim import load_sim_mesh  # the simulator reads user meshes through the same welding reader

    path = tmp_path / "scan.obj"
    _textured_cube_obj(path, size=0.05)
    mesh = load_sim_mesh(str(path))
    assert mesh.is_volume
    np.testing.assert_allclose(mesh.extents, [0.05, 0.05, 0.05], atol=1e-9)


def test_keep_scale_refuses_meshes_too_large_for_the_table(tmp_path):
    box = export(trimesh.creation.box([0.1, 0.2, 0.4]), tmp_path / "big.stl")
    with pytest.raises(MeshError, match=r"too large.*as given"):
        load_object(box, GRIPPER, keep_scale=True)


def test_fit_max_extent_shrinks_long_objects_and_refuses_wires(tmp_path):
    rod = export(trimesh.creation.box([0.01, 0.02, 0.1]), tmp_path / "rod.stl")
    mesh = load_object(rod, GRIPPER, target_min_extent=0.04, fit_max_extent=True)
    assert max(mesh.extents) == pytest.approx(0.25)
    assert min(mesh.extents) == pytest.approx(0.025)
    wire = export(trimesh.creation.box([0.002, 0.004, 0.3]), tmp_path / "wire.stl")
    with pytest.raises(MeshError, match="too thin"):
        load_object(wire, GRIPPER, target_min_extent=0.01, fit_max_extent=True)


def test_object_scale_is_log_uniform_over_one_to_six_cm():
    rng = np.random.default_rng(0)
    sides = np.array([sample_target_min_extent(rng) for _ in range(4000)])
    assert sides.min() >= 0.01 and sides.max() <= 0.06
    # Log-uniform: equal counts per equal ratio, e.g. [1, sqrt 6] cm and [sqrt 6, 6] cm.
    assert (sides < np.sqrt(0.01 * 0.06)).mean() == pytest.approx(0.5, abs=0.03)
    assert sample_target_min_extent(np.random.default_rng(7)) == sample_target_min_extent(np.random.default_rng(7))


def test_stable_poses_of_a_box_are_its_faces():
    box = trimesh.creation.box([0.04, 0.06, 0.08])
    poses = stable_poses(box, min_probability=0.0, max_poses=10)
    assert len(poses) == 6
    probabilities = [p for _, p in poses]
    assert sum(probabilities) == pytest.approx(1.0, abs=1e-6)
    assert probabilities == sorted(probabilities, reverse=True)
    heights = []
    for transform, _ in poses:
        rotation = transform[:3, :3]
        np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-9)
        resting = box.copy().apply_transform(transform)
        assert resting.bounds[0, 2] == pytest.approx(0.0, abs=1e-9)  # touches the table, above it
        np.testing.assert_allclose((transform @ [0, 0, 0, 1])[:2], 0.0, atol=1e-9)  # COM above the origin
        bottom = resting.vertices[:, 2] < 1e-9
        assert bottom.sum() == 4  # rests on a whole face
        heights.append(round(resting.extents[2], 6))
    assert sorted(heights) == [0.04, 0.04, 0.06, 0.06, 0.08, 0.08]
    assert heights[0] == 0.04  # the largest face is the most likely to land on


def test_stable_poses_filters_by_probability_and_count():
    box = trimesh.creation.box([0.04, 0.06, 0.08])
    poses = stable_poses(box, min_probability=0.1, max_poses=3)
    assert 1 <= len(poses) <= 3
    assert all(p >= 0.1 for _, p in poses)


def _torn_torus() -> trimesh.Trimesh:
    torus = trimesh.creation.torus(major_radius=0.03, minor_radius=0.01)
    keep = torus.triangles_center[:, 0] < 0.02  # cut a wide window out of a non-convex surface
    torus.update_faces(np.flatnonzero(keep))
    return torus


def _two_apart_boxes() -> trimesh.Trimesh:
    other = trimesh.creation.box([0.02, 0.02, 0.02])
    other.apply_translation([0.05, 0.0, 0.0])
    return trimesh.util.concatenate([trimesh.creation.box([0.02, 0.02, 0.02]), other])
