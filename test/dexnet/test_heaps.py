"""Heaps for the dataset: settling in MuJoCo, the heap's objects from one split, the windowed renderer."""

import numpy as np
import trimesh

from dexnet import dataset
from dexnet.heaps import choose_heap, heap_mesh, heap_split, settle_heap
from gqcnn_core.camera import CameraIntrinsics
from gqcnn_core.render import ObjectRenderer, look_at, sample_mount_camera_pose

CAMERA = CameraIntrinsics(fx=525.0, fy=525.0, cx=319.5, cy=239.5, width=640, height=480)


def test_settled_heap_rests_on_the_table_and_objects_do_not_interpenetrate():
    meshes = [trimesh.creation.box((0.03, 0.05, 0.08)), trimesh.creation.box((0.02, 0.04, 0.06)),
              trimesh.creation.cylinder(radius=0.02, height=0.07, sections=24)]
    poses = settle_heap(meshes, np.random.default_rng(0))
    placed = [m.copy().apply_transform(p) for m, p in zip(meshes, poses, strict=True)]
    lowest = min(m.bounds[0, 2] for m in placed)
    assert -0.003 < lowest < 0.002  # something touches the table, nothing sinks through it
    for m in placed:
        assert m.bounds[0, 2] > -0.003  # each object at rest on the table or on another object
        assert m.bounds[0, 2] < 0.1  # and it fell: nothing hangs where it was released
    for i in range(len(placed)):  # convex shapes: penetration is at most a few millimetres
        for j in range(i + 1, len(placed)):
            inside = placed[j].contains(placed[i].sample(500, seed=i))
            assert inside.mean() < 0.05
    again = settle_heap(meshes, np.random.default_rng(0))
    np.testing.assert_allclose(np.array(poses), np.array(again), atol=1e-9)  # seeded: same heap


def test_heaps_take_objects_from_their_own_split_only():
    by_split = {"train": list(range(0, 80)), "val": list(range(80, 90)), "test": list(range(90, 100))}
    split_of = {i: s for s, ids in by_split.items() for i in ids}
    splits = []
    for heap_id in range(200):
        plan = choose_heap(heap_id, 0, by_split, (2, 8))
        assert plan is not None and 2 <= len(plan.object_ids) <= 8
        assert {split_of[i] for i in plan.object_ids} == {plan.split} == {heap_split(heap_id)}
        assert len(set(plan.object_ids)) == len(plan.object_ids)
        splits.append(plan.split)
    assert 0.7 < splits.count("train") / len(splits) < 0.9  # same fractions as the objects
    assert choose_heap(3, 0, by_split, (2, 8)) == choose_heap(3, 0, by_split, (2, 8))
    assert choose_heap(0, 0, {}, (2, 8)) is None  # too few objects in the split


def test_heap_mesh_and_windowed_render_match_the_full_render():
    box = trimesh.creation.box((0.04, 0.04, 0.04))
    world = heap_mesh([box, box], [np.eye(4) @ _at(0.0, 0.0, 0.02), _at(0.06, 0.0, 0.02)])
    renderer = ObjectRenderer(world, CAMERA)
    world_camera = look_at(np.array([0.05, 0.1, 0.7]))
    full = renderer.render(world_camera, np.eye(4))
    u0, v0, u1, v1 = 200, 150, 420, 330
    part = renderer.render(world_camera, np.eye(4), window=(u0, v0, u1, v1))
    np.testing.assert_array_equal(part[v0:v1, u0:u1], full[v0:v1, u0:u1])
    assert np.isnan(part[:v0]).all() and np.isnan(part[:, u1:]).all()
    assert np.nanmin(full) < 0.7 - 0.035  # the boxes' tops are in view


def test_mount_camera_heights_and_tilts():
    rng = np.random.default_rng(0)
    for _ in range(200):
        pose, height, tilt = sample_mount_camera_pose(rng)
        assert 0.5 <= height <= 0.9 and 0 <= np.degrees(tilt) <= 25
        assert pose[2, 3] == height
        assert abs(np.arccos(-pose[2, 2]) - tilt) < 1e-6
        # The optical axis passes through the table origin.
        t = -pose[2, 3] / pose[2, 2]
        np.testing.assert_allclose((pose[:3, 3] + t * pose[:3, 2])[:2], 0.0, atol=1e-9)


def _at(x: float, y: float, z: float) -> np.ndarray:
    pose = np.eye(4)
    pose[:3, 3] = x, y, z
    return pose


def test_format_1_shards_read_with_defaults(tmp_path):
    arrays = {k: v for k, v in dataset.empty_shard().items() if k not in dataset.FIELD_DEFAULTS}
    arrays = {k: np.zeros((3, *v.shape[1:]), v.dtype) for k, v in arrays.items()}
    np.savez(tmp_path / "old.npz", **arrays)
    data = dataset.read_shard(tmp_path / "old.npz")
    assert dataset.check_shard(data) == 3
    assert np.all(data["heap_id"] == -1) and np.all(data["sensor_preset"] == 0) and np.all(data["executed"] == -1)


def test_a_grasp_under_a_neighbour_collides_in_the_heap_but_not_alone():
    from dexnet.collision import grasps_collide
    from gqcnn_core.gripper import load_gripper
    from gqcnn_core.paths import DEFAULT_GRIPPER_FILE

    gripper = load_gripper(DEFAULT_GRIPPER_FILE)
    bottom = trimesh.creation.box((0.03, 0.12, 0.03))
    top = trimesh.creation.box((0.03, 0.03, 0.03))
    poses = [_at(0.0, 0.0, 0.015), _at(0.0, 0.0, 0.045)]  # a cube lying on the middle of a bar
    grasp_center, axis = np.array([[0.0, 0.0, 0.015]]), np.array([[1.0, 0.0, 0.0]])  # across the bar, mid-height
    alone = grasps_collide(bottom.copy().apply_transform(poses[0]), grasp_center, axis, gripper)
    assert not alone[0]
    heap = heap_mesh([bottom, top], poses)
    assert grasps_collide(heap, grasp_center, axis, gripper)[0]  # the fingers come down onto the cube
    assert not grasps_collide(heap, np.array([[0.0, 0.045, 0.015]]), axis, gripper)[0]  # beside the cube: free
    assert not grasps_collide(heap, np.array([[0.0, 0.0, 0.045]]), axis, gripper)[0]  # the cube itself: free
