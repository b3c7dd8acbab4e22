"""Which unmeasured pixels the collision check reads along the rays: only holes across a depth step."""

import numpy as np
from conftest import Scene

from gqcnn_core.depth import inpaint, missing
from gqcnn_core.sensor import apply_sensor
from gqcnn_planner.collision import (
    gripper_clear,
    holes_across_steps,
    read_emitter_shadows,
    sensed_surface,
    table_normal,
)
from gqcnn_planner.policies import PolicyConfig
from gqcnn_planner.sampling import sample_antipodal


def test_only_holes_whose_border_spans_a_step_are_kept():
    depth = np.full((60, 80), 0.70)
    depth[10:40, 20:50] = 0.60  # a box top 10 cm above the table
    depth[45:60, 55:80] = np.linspace(0.60, 0.66, 25)[None, :]  # a wall seen at a grazing angle: a smooth ramp
    holes = np.zeros_like(depth, dtype=bool)
    holes[20:24, 30:34] = True  # inside the box top
    holes[50:54, 5:9] = True  # inside the table
    holes[8:13, 40:44] = True  # across the box's rim
    holes[48:52, 62:70] = True  # inside the ramp: its border spans 2 cm of depth, but smoothly
    kept = holes_across_steps(depth, holes)
    assert kept[8:13, 40:44].all()
    assert kept.sum() == 20
    # Two holes with one measured table column between them, beside the box top's right and left edges: the column
    # borders both, so the hole on the box top's edge sees the step whichever of the two is labelled first.
    for on_box, on_table in ((slice(47, 50), slice(51, 54)), (slice(20, 23), slice(16, 19))):
        pair = np.zeros_like(holes)
        pair[14:18, on_box] = pair[14:18, on_table] = True
        kept = holes_across_steps(depth, pair)
        assert kept[14:18, on_box].all() and not kept[14:18, on_table].any()


def test_a_tall_object_with_dropout_on_its_near_face_keeps_grasps_beside_its_far_side():
    """A 4 x 12 cm plate standing 12 cm tall, seen 25 deg off vertical through the structured-light model: dropout on
    its grazing near face and near its top read along the rays blocked the far finger of every grasp (0 or 9 cleared
    of the 20-26 the undamaged image clears); with only the holes across steps read that way, about half clear,
    and none that collides."""
    config = PolicyConfig()
    for camera_position in ((0.0, 0.3, 0.6), (0.25, 0.0, 0.6)):
        scene = Scene(size=(0.04, 0.12, 0.12), camera_position=camera_position)
        raw = apply_sensor(scene.depth, scene.camera, "structured_light", np.random.default_rng(1))
        holes, filled = missing(raw), inpaint(raw)
        sampled = sample_antipodal(filled, scene.camera, np.random.default_rng(0), 1000, scene.mask, config.sampler)
        up = table_normal(filled, scene.camera)
        true_up = table_normal(scene.depth, scene.camera)
        truth = gripper_clear(scene.depth, sampled, scene.camera, config.gripper, true_up)
        shadows_read, left = read_emitter_shadows(filled, holes)
        every_hole = gripper_clear(shadows_read, sampled, scene.camera, config.gripper, up, holes=left)
        depth, across_steps = sensed_surface(filled, holes)
        clear = gripper_clear(depth, sampled, scene.camera, config.gripper, up, holes=across_steps)
        assert truth.sum() >= 20
        assert clear.sum() >= max(0.35 * truth.sum(), 2 * every_hole.sum(), 8)
        assert not (clear & scene.mesh_collisions(sampled, config.gripper)).any()
