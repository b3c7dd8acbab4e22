"""Heaps in the MuJoCo sim: settling inside the area, labels, picking one object out, determinism."""

import numpy as np
import pytest
from yumi_scenes import BASE_AS_CAMERA, top_down_grasp

from gqcnn_core.grasp import Grasp2D
from yumi_bridge.heap import AREA_SIZE, HeapSimulator
from yumi_bridge.motion import MotionConfig, plan_grasp_motion
from yumi_bridge.sim import box_mesh

CUBE = 0.03
CONFIG = MotionConfig()


def three_cubes() -> HeapSimulator:
    return HeapSimulator([box_mesh((CUBE, CUBE, CUBE))] * 2 + [box_mesh((CUBE, 0.04, 0.02))])


def most_isolated(scene) -> int:
    positions = {k: pose[:3, 3] for k, pose in scene.world_objects.items()}
    return max(positions, key=lambda k: min(np.linalg.norm(positions[k][:2] - p[:2]) for j, p in positions.items()
                                            if j != k))


def across(scene, k: int) -> np.ndarray:
    """Top-down TCP pose across object k's shortest horizontal box axis, 1 cm below its top (world frame)."""
    pose = scene.world_objects[k]
    up = int(np.argmax(np.abs(pose[2, :3])))
    horizontal = [i for i in range(3) if i != up]
    extents = np.array([CUBE, CUBE, CUBE]) if k < 2 else np.array([CUBE, 0.04, 0.02])
    axis = pose[:3, min(horizontal, key=lambda i: extents[i])]
    top = pose[2, 3] + extents[up] / 2
    return top_down_grasp(pose[0, 3], pose[1, 3], top - 0.01, yaw=float(np.arctan2(axis[1], axis[0])))


@pytest.fixture(scope="module")
def heap():
    sim = three_cubes()
    return sim, sim.drop(seed=5)


def test_three_objects_settle_inside_the_area_and_each_has_its_label(heap):
    sim, scene = heap
    assert scene.objects == [0, 1, 2] and scene.removed == ()
    for k, pose in scene.world_objects.items():
        assert np.all(np.abs(pose[:2, 3] - sim.center) <= AREA_SIZE / 2)
        assert pose[2, 3] < 0.06  # resting on the table or on another object, not in the air
        assert (scene.labels == k + 1).sum() > 50  # every object is seen ...
    # ... and labelled pixels are above the table, unlabelled ones are the table.
    heights = scene.depth[scene.labels == 0]
    assert np.nanmax(heights) - np.nanmin(heights) < 0.2  # the tilted table plane only
    assert np.nanmin(scene.depth[scene.labels > 0]) < np.nanmin(heights)


def test_a_pick_on_an_isolated_object_carries_it_out_and_the_rest_stay():
    sim = three_cubes()
    scene = sim.drop(seed=5)
    k = most_isolated(scene)
    others = {j: scene.world_objects[j] for j in scene.objects if j != k}
    plan = plan_grasp_motion(across(scene, k), 0.03, 0.9, "", CONFIG, BASE_AS_CAMERA)
    outcome = sim.execute(plan, target=k)
    assert outcome.success, outcome.message
    assert outcome.held_object == k and outcome.cause == "" and outcome.fell_out == ()
    assert outcome.motion_time > outcome.execution.duration > 5.0
    after = sim.scene
    assert after.objects == sorted(others) and after.removed == (k,) and after.attempts == 1
    assert not (after.labels == k + 1).any()
    for j, pose in others.items():
        np.testing.assert_allclose(after.world_objects[j][:3, 3], pose[:3, 3], atol=2e-3)  # left where they lay

    again = three_cubes()  # the same seed gives the same heap, image and outcome
    same = again.drop(seed=5)
    np.testing.assert_array_equal(same.depth, scene.depth)
    np.testing.assert_array_equal(same.labels, scene.labels)
    repeat = again.execute(plan, target=k)
    assert (repeat.success, repeat.held_object, repeat.motion_time) == (True, k, outcome.motion_time)
    np.testing.assert_array_equal(again.scene.depth, after.depth)
    np.testing.assert_array_equal(sim.drop(seed=5).depth, scene.depth)  # a new drop after picks: the same heap


def test_restore_brings_the_heap_back_for_another_grasp():
    sim = three_cubes()
    scene = sim.drop(seed=5)
    k = most_isolated(scene)
    plan = plan_grasp_motion(across(scene, k), 0.03, 0.9, "", CONFIG, BASE_AS_CAMERA)
    fresh = sim.snapshot()
    first = sim.execute(plan, target=k)
    assert sim.scene.objects != scene.objects
    assert sim.restore(fresh) is scene and sim.scene.objects == scene.objects
    second = sim.execute(plan, target=k)
    assert (second.success, second.held_object, second.motion_time) == (first.success, k, first.motion_time)


def test_a_grasp_between_no_objects_misses_and_leaves_the_heap(heap):
    sim, _ = heap
    scene = sim.drop(seed=5)
    corner = sim.center - AREA_SIZE / 2 + 0.02  # an empty corner of the area, in reach
    assert all(np.linalg.norm(pose[:2, 3] - corner) > 0.05 for pose in scene.world_objects.values())
    plan = plan_grasp_motion(top_down_grasp(corner[0], corner[1], 0.01), 0.03, 0.9, "", CONFIG, BASE_AS_CAMERA)
    outcome = sim.execute(plan)
    assert not outcome.success and outcome.cause == "missed" and outcome.held_object is None
    assert sim.scene.objects == scene.objects and sim.scene.attempts == 1


def test_object_at_reads_the_label_under_the_jaws(heap):
    sim, _ = heap
    scene = sim.drop(seed=5)
    for k in scene.objects:
        v, u = np.argwhere(scene.labels == k + 1).mean(axis=0)
        grasp = Grasp2D((float(u), float(v)), 0.0, 0.6, 0.02)
        assert scene.object_at(grasp) == k
    assert scene.object_at(Grasp2D((5.0, 5.0), 0.0, 0.6, 0.02)) is None  # the image corner is table


def test_fingers_landing_on_a_neighbour_are_a_collision_with_it():
    sim = HeapSimulator([box_mesh((CUBE, CUBE, CUBE)), box_mesh((CUBE, CUBE, 0.06))])
    cube, tall = np.eye(4), np.eye(4)
    cube[:3, 3] = 0.40, 0.0, CUBE / 2
    tall[:3, 3] = 0.40 + CUBE + 0.005, 0.0, 0.03  # 5 mm beside the cube, under the open finger
    scene = sim.place({0: cube, 1: tall})
    assert scene.objects == [0, 1] and scene.object_at(Grasp2D((0.0, 0.0), 0.0, 0.6, 0.02)) is None
    plan = plan_grasp_motion(top_down_grasp(0.40, 0.0, 0.02), 0.03, 0.9, "", CONFIG, BASE_AS_CAMERA)
    outcome = sim.execute(plan, target=0)
    assert not outcome.success and outcome.cause == "collision_neighbour" and outcome.collided_object == 1
    assert sim.execute(plan, target=None).cause == "collision"  # aim unknown: no neighbour to blame
