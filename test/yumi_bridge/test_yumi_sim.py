"""MuJoCo grasp trials: held, missed, collision, slip and drop causes, determinism, render/physics agreement, CoACD."""

import logging
import time
from dataclasses import replace

import numpy as np
import pytest
import trimesh
from yumi_scenes import BASE_AS_CAMERA, BOX, grasp_across_short_side, standing_box_pose, top_down_grasp

from gqcnn_core.gripper import Gripper
from yumi_bridge.backend import Backend, SceneSource
from yumi_bridge.coacd_cache import convex_parts
from yumi_bridge.motion import GraspRefusedError, MotionConfig, plan_grasp_motion
from yumi_bridge.sim import GraspSimulator, SimBackend, SimSettings, box_mesh, load_sim_mesh

CONFIG = MotionConfig()


def plan(grasp, width=0.035, config=CONFIG):
    return plan_grasp_motion(grasp, width, 0.9, "", config, BASE_AS_CAMERA)


@pytest.fixture(scope="module")
def standing_box():
    sim = GraspSimulator(box_mesh(BOX))
    sim.place_object(standing_box_pose())
    return sim


def test_box_grasped_across_its_short_side_is_lifted_and_held(standing_box):
    phases = []
    start = time.process_time()
    outcome = standing_box.execute(plan(top_down_grasp(0.40, 0.0, 0.035)), on_phase=phases.append)
    cpu = time.process_time() - start
    assert outcome.success, outcome.message
    assert outcome.cause == "" and outcome.final_width == pytest.approx(BOX[0], abs=1e-3)
    assert phases == ["pre_grasp", "approach", "close", "lift", "transport", "release"] == outcome.phases
    assert outcome.duration > 5.0  # simulated seconds: approach, close, lift, transport, shake
    assert cpu < 3.0  # a trial costs well under a second of CPU on an idle core


def test_grasp_3cm_off_the_object_misses(standing_box):
    beyond_the_end = BOX[1] / 2 + 0.03
    outcome = standing_box.execute(plan(top_down_grasp(0.40, beyond_the_end, 0.035)))
    assert not outcome.success and outcome.cause == "missed"
    assert outcome.final_width < 0.002 and outcome.phases[-1] == "close"


def test_fingers_landing_on_the_object_are_a_collision(standing_box):
    across_the_long_side = top_down_grasp(0.40, 0.0, 0.035, yaw=np.pi / 2)  # a 35 mm opening over a 90 mm side
    outcome = standing_box.execute(plan(across_the_long_side))
    assert not outcome.success and outcome.cause == "collision"
    assert "on the way down" in outcome.message and outcome.phases[-1] == "approach"


def test_touching_the_table_is_a_collision(standing_box):
    relaxed = replace(CONFIG, table_clearance=-0.05)  # let the plan through to see the simulation catch it
    outcome = standing_box.execute(plan(top_down_grasp(0.40, 0.15, -0.01), config=relaxed))  # beside the box
    assert outcome.cause == "collision" and "table" in outcome.message


@pytest.mark.parametrize(
    ("density", "offset", "cause"),
    [
        (3000.0, 0.0, "slipped"),  # 4.6 N of box against 2 x 0.1 x 20 N of friction
        (2000.0, 0.03, "dropped_while_shaking"),  # held off-centre until the shake twists it out
    ],
)
def test_slippery_fingers_lose_heavy_objects(density, offset, cause):
    settings = SimSettings(sim_finger_friction=0.1, sim_object_friction=0.1, sim_object_density=density)
    sim = GraspSimulator(box_mesh(BOX), settings=settings)
    sim.place_object(standing_box_pose())
    outcome = sim.execute(plan(top_down_grasp(0.40, offset, 0.035)))
    assert not outcome.success and outcome.cause == cause


def test_jaws_shut_on_a_tip_are_a_miss_as_the_physical_executor_judges():
    # The physical executor calls jaws closed below rws_held_min_width (2 mm) a miss whatever they touch; the sim
    # judged by contacts alone and counted fingertips pinching a cone's apex as held (in heaps: as a slip).
    cone = trimesh.creation.cone(radius=0.02, height=0.04, sections=32)
    sim = GraspSimulator(cone)
    upright = np.eye(4)
    upright[:2, 3] = (0.40, 0.0)
    sim.place_object(upright)
    outcome = sim.execute(plan(top_down_grasp(0.40, 0.0, 0.039), width=0.002))
    assert not outcome.success and outcome.cause == "missed", outcome
    assert outcome.final_width < 0.002
    below_the_tip = sim.execute(plan(top_down_grasp(0.40, 0.0, 0.036), width=0.004))  # 3.6 mm apart: held
    assert below_the_tip.success, below_the_tip.message


def test_cancel_stops_the_trial(standing_box):
    calls = []

    def cancel_on_the_way_down():
        calls.append(1)
        return len(calls) > 10

    outcome = standing_box.execute(plan(top_down_grasp(0.40, 0.0, 0.035)), should_cancel=cancel_on_the_way_down)
    assert outcome.cause == "canceled" and not outcome.success
    again = standing_box.execute(plan(top_down_grasp(0.40, 0.0, 0.035)))  # starts from the settled scene again
    assert again.success


def test_drop_render_plan_execute_is_deterministic():
    extents = (0.03, 0.04, 0.08)
    sim = GraspSimulator(box_mesh(extents))
    first = sim.drop_object(seed=3)
    outcome = sim.run_grasp(first, grasp_across_short_side(first, extents))
    assert outcome.success, outcome.message

    again = GraspSimulator(box_mesh(extents)).drop_object(seed=3)
    np.testing.assert_array_equal(again.depth, first.depth)
    np.testing.assert_array_equal(again.world_object, first.world_object)
    repeat = sim.run_grasp(first, grasp_across_short_side(first, extents))
    assert (repeat.success, repeat.final_width, repeat.duration) == (
        outcome.success,
        outcome.final_width,
        outcome.duration,
    )
    other = sim.drop_object(seed=4)
    assert not np.array_equal(other.world_object, first.world_object)


def test_registration_error_moves_the_believed_camera_not_the_scene():
    exact = GraspSimulator(box_mesh()).drop_object(seed=2)
    np.testing.assert_array_equal(exact.extrinsics().base_camera, exact.world_camera)
    noisy_sim = GraspSimulator(box_mesh(), settings=SimSettings(sim_registration_error=(0.003, 0.003)))
    noisy, again = noisy_sim.drop_object(seed=2), noisy_sim.drop_object(seed=2)
    np.testing.assert_array_equal(noisy.depth, exact.depth)  # same scene and image ...
    believed = noisy.extrinsics().base_camera
    assert 1e-4 < np.linalg.norm(believed[:3, 3] - exact.world_camera[:3, 3]) < 0.02  # ... the robot is off a bit
    np.testing.assert_array_equal(again.extrinsics().base_camera, believed)  # deterministic per seed
    with pytest.raises(ValueError, match="two standard deviations"):
        SimSettings(sim_registration_error=(-0.001, 0.0))


def test_rendered_depth_shows_the_settled_physics_pose():
    mesh = box_mesh((0.03, 0.04, 0.08))
    sim = GraspSimulator(mesh)
    scene = sim.drop_object(seed=1)
    assert np.nanmin(scene.depth) < np.nanmax(scene.depth) - 0.02  # the object stands out of the table
    # Pixels above the table are object pixels: deprojected, they lie on the mesh at its settled pose.
    cloud = scene.camera.deproject_image(scene.depth)[::3, ::3].reshape(-1, 3)
    world_points = cloud @ scene.world_camera[:3, :3].T + scene.world_camera[:3, 3]
    world_points = world_points[world_points[:, 2] > 0.003]
    assert len(world_points) > 100
    object_points = (world_points - scene.world_object[:3, 3]) @ scene.world_object[:3, :3]
    _, distance, _ = trimesh.proximity.closest_point(mesh, object_points)
    assert distance.max() < 1e-3
    # ... and the settled object rests on the table.
    lowest = (mesh.vertices @ scene.world_object[:3, :3].T + scene.world_object[:3, 3])[:, 2].min()
    assert abs(lowest) < 1e-3


def test_unsafe_plans_are_refused_before_the_sim_moves():
    extents = (0.03, 0.04, 0.08)
    sim = GraspSimulator(box_mesh(extents), config=replace(CONFIG, min_q=0.5))
    scene = sim.drop_object(seed=3)
    with pytest.raises(GraspRefusedError, match="below min_q"):
        sim.run_grasp(scene, grasp_across_short_side(scene, extents), q_value=0.1)


def l_shape() -> trimesh.Trimesh:
    bar = trimesh.creation.box([0.10, 0.03, 0.03])
    foot = trimesh.creation.box([0.03, 0.08, 0.03])
    foot.apply_translation([0.035, 0.025, 0.0])
    mesh = trimesh.boolean.union([bar, foot])
    mesh.apply_translation(-mesh.center_mass)
    return mesh


def test_concave_objects_are_decomposed_once_and_cached(tmp_path):
    mesh = l_shape()
    settings = SimSettings(sim_cache_dir=str(tmp_path))  # the sim finds the same cache
    parts = convex_parts(mesh, cache_dir=tmp_path)
    assert len(parts) >= 2  # not the convex hull, which would fill the L's inner corner
    assert len(list(tmp_path.glob("*.npz"))) == 1
    start = time.perf_counter()
    cached = convex_parts(mesh, cache_dir=tmp_path)
    assert time.perf_counter() - start < 0.1
    assert all(np.array_equal(a, b) for a, b in zip(parts, cached, strict=True))
    hull_volume = sum(trimesh.convex.convex_hull(p).volume for p in parts)
    assert hull_volume == pytest.approx(mesh.volume, rel=0.1)
    assert len(convex_parts(box_mesh(), cache_dir=tmp_path)) == 1  # convex: no CoACD run, no cache entry
    assert len(list(tmp_path.glob("*.npz"))) == 1

    sim = GraspSimulator(mesh, settings=settings)  # the physics uses the parts: the L lies flat, 30 mm high
    scene = sim.drop_object(seed=0)
    top = (mesh.vertices @ scene.world_object[:3, :3].T + scene.world_object[:3, 3])[:, 2].max()
    assert top == pytest.approx(0.03, abs=2e-3)


def test_mesh_files_load_and_bad_ones_are_explained(tmp_path):
    path = tmp_path / "box.stl"
    box_mesh((0.03, 0.04, 0.05)).export(path)
    assert load_sim_mesh(str(path)).extents == pytest.approx([0.03, 0.04, 0.05])
    assert load_sim_mesh("").extents == pytest.approx(BOX)
    with pytest.raises(FileNotFoundError, match="sim mesh file not found"):
        load_sim_mesh(str(tmp_path / "missing.obj"))


def test_the_backend_builds_its_fingers_from_the_gripper_it_is_given():
    narrow = Gripper(max_width=0.04, finger_width=0.01, palm_width=0.08)
    backend = SimBackend(SimSettings(), CONFIG, narrow, logging.getLogger("test"))
    assert isinstance(backend, Backend) and isinstance(backend, SceneSource) and backend.gripper is narrow
    model = backend.simulator.world.model
    assert model.jnt_range[model.joint("finger_left").id][1] == pytest.approx(0.02)  # half the stroke
    assert model.actuator_ctrlrange[model.actuator("jaws").id][1] == pytest.approx(0.04)
    assert model.geom_size[model.geom("finger_left").id][0] == pytest.approx(0.005)  # half the finger width
    scene = backend.scene
    grasp = grasp_across_short_side(scene, BOX)
    plan = plan_grasp_motion(scene.grasp_pose(grasp), grasp.width, 0.9, "", CONFIG, backend.extrinsics, narrow)
    assert plan.open_width == pytest.approx(0.04)
    outcome = backend.execute(plan)
    assert outcome.success, outcome.message
    assert backend.new_scene().seed == scene.seed + 1 and backend.scene.seed == scene.seed + 1
    backend.close()
