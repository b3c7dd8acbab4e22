"""Sim presets and per-scene physical conditions (paper: friction and density draws), and the sensor hook."""

from dataclasses import replace

import numpy as np
import pytest
from yumi_scenes import BASE_AS_CAMERA, BOX, grasp_across_short_side, standing_box_pose, top_down_grasp

from yumi_bridge.heap import HeapSimulator
from yumi_bridge.motion import MotionConfig, plan_grasp_motion
from yumi_bridge.sim import GraspSimulator, SimSettings, box_mesh
from yumi_bridge.sim_settings import PRESETS, Conditions, draw_conditions, preset_settings, sensed_depth

PAPER = preset_settings("paper")


def test_presets_easy_is_the_first_protocol_and_paper_draws_the_labels_conditions():
    assert set(PRESETS) == {"easy", "paper"}
    assert preset_settings("easy") == SimSettings()
    assert draw_conditions(SimSettings(), seed=7, n_objects=3) == Conditions(0.8, (400.0, 400.0, 400.0))
    assert PAPER.sim_sensor == "structured_light"
    assert preset_settings("paper", sim_seed=4).sim_seed == 4  # overrides on top
    with pytest.raises(ValueError, match="easy, paper"):
        preset_settings("hard")
    with pytest.raises(ValueError, match="sim_sensor"):
        SimSettings(sim_sensor="lidar")
    with pytest.raises(ValueError, match="sim_object_density_range"):
        SimSettings(sim_object_density_range=(500.0, 100.0))


def test_paper_draws_follow_the_labels_distribution_and_the_seed():
    draws = [draw_conditions(PAPER, seed, n_objects=2) for seed in range(600)]
    friction = np.array([d.finger_friction for d in draws])
    density = np.array([d.object_densities for d in draws])
    assert friction.min() >= 0.2 and friction.max() <= 0.9
    assert friction.mean() == pytest.approx(0.5, abs=0.02) and friction.std() == pytest.approx(0.1, abs=0.015)
    assert density.min() >= 200 and density.max() <= 1200 and density.mean() == pytest.approx(700, abs=40)
    assert not np.array_equal(density[:, 0], density[:, 1])  # one density per object
    assert draw_conditions(PAPER, 11, 2) == draws[11]  # the same seed, the same conditions


def test_drawn_conditions_reach_the_physics():
    mesh = box_mesh((0.03, 0.04, 0.08))
    sim = GraspSimulator(mesh, settings=PAPER)
    scene = sim.drop_object(seed=3)
    expected = draw_conditions(PAPER, 3)
    assert (scene.finger_friction, scene.object_density) == (expected.finger_friction, expected.object_densities[0])
    model = sim.world.model
    assert model.geom_friction[model.geom("finger_left").id, 0] == pytest.approx(expected.finger_friction)
    assert model.body_mass[model.body("object").id] == pytest.approx(mesh.volume * expected.object_densities[0])
    again = GraspSimulator(mesh, settings=PAPER).drop_object(seed=3)  # deterministic per seed
    np.testing.assert_array_equal(again.depth, scene.depth)
    outcome = sim.run_grasp(scene, grasp_across_short_side(scene, (0.03, 0.04, 0.08)))
    assert outcome.success, outcome.message

    # A draw that can only give slippery fingers and a heavy box loses it, as the fixed settings do.
    slippery = replace(SimSettings(), sim_finger_friction=0.1, sim_finger_friction_std=0.05,
                       sim_finger_friction_range=(0.1, 0.1), sim_object_friction=0.1,
                       sim_object_density_range=(3000.0, 3000.0))
    heavy = GraspSimulator(box_mesh(BOX), settings=slippery)
    heavy.drop_object(seed=0)  # draws the conditions ...
    heavy.place_object(standing_box_pose())  # ... which stay for a hand-placed object
    plan = plan_grasp_motion(top_down_grasp(0.40, 0.0, 0.035), 0.035, 0.9, "", MotionConfig(), BASE_AS_CAMERA)
    assert heavy.execute(plan).cause == "slipped"


def test_sensor_models_of_the_scene():
    scene = GraspSimulator(box_mesh()).drop_object(seed=2)
    rendered = scene.depth
    gaussian = scene.sensed("gaussian_1mm", np.random.default_rng(0))
    expected = np.nan_to_num(rendered, nan=0.0) + np.random.default_rng(0).normal(0.0, 0.001, rendered.shape)
    np.testing.assert_array_equal(gaussian, expected.astype(np.float32))  # the first benchmark's sensor, exactly
    np.testing.assert_array_equal(scene.sensed("ideal", np.random.default_rng(0)), np.nan_to_num(rendered))
    structured = scene.sensed("structured_light", np.random.default_rng(0))
    assert structured.dtype == np.float32 and (structured == 0).sum() > 100  # shadows beside the box
    assert np.isfinite(structured).all()
    with pytest.raises(ValueError, match="unknown sensor"):
        sensed_depth(rendered, scene.camera, "lidar", np.random.default_rng(0))


def test_heaps_draw_a_density_per_object_and_a_friction_per_attempt():
    cube = box_mesh((0.03, 0.03, 0.03))
    sim = HeapSimulator([cube, cube], settings=PAPER)
    scene = sim.drop(seed=1)
    assert scene.object_densities == draw_conditions(PAPER, 1, 2).object_densities
    model = sim.world.model
    for k, density in enumerate(scene.object_densities):
        assert 200 <= density <= 1200
        assert model.body_mass[model.body(f"object{k}").id] == pytest.approx(cube.volume * density)
    corner = sim.center - 0.13  # an empty corner of the area: the jaws close on nothing
    plan = plan_grasp_motion(top_down_grasp(corner[0], corner[1], 0.01), 0.03, 0.9, "", MotionConfig(), BASE_AS_CAMERA)
    first, second = sim.execute(plan), sim.execute(plan)
    assert first.cause == "missed" and first.finger_friction != second.finger_friction
    assert all(0.2 <= o.finger_friction <= 0.9 for o in (first, second))
    assert model.geom_friction[model.geom("finger_left").id, 0] == second.finger_friction
    sim.drop(seed=1)
    assert sim.execute(plan).finger_friction == first.finger_friction  # from the seed and the attempt's number


@pytest.mark.parametrize(("finger_friction", "held"), [(0.5, True), (0.2, False)])
def test_the_finger_friction_governs_finger_object_contacts(finger_friction, held):
    # The labels' friction coefficient is the finger-object contact's. MuJoCo uses the larger of two geoms'
    # coefficients unless one has priority: without it the objects' 0.5 replaced every drawn finger friction
    # below 0.5. A 0.35 kg box (3.4 N) in a 5 N grip: 2 x 0.5 x 5 N of friction hold it, 2 x 0.2 x 5 N do not.
    settings = SimSettings(sim_finger_friction=finger_friction, sim_object_friction=0.5,
                           sim_object_density=0.35 / np.prod(BOX))
    sim = GraspSimulator(box_mesh(BOX), replace(MotionConfig(), grip_force=5.0), settings)
    sim.place_object(standing_box_pose())
    plan = plan_grasp_motion(top_down_grasp(0.40, 0.0, 0.035), 0.035, 0.9, "", sim.config, BASE_AS_CAMERA)
    outcome = sim.execute(plan)
    assert outcome.success == held, outcome.message
    if not held:
        assert outcome.cause == "slipped"
