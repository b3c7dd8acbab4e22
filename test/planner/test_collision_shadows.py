"""The collision check on the holes an emitter's occlusion shadow leaves beside objects (structured light, stereo)."""

import numpy as np
from conftest import Scene

from gqcnn_core.depth import inpaint, missing
from gqcnn_core.sensor import apply_sensor, occluded_from_emitter
from gqcnn_planner.collision import gripper_clear, read_emitter_shadows, sensed_surface, table_normal
from gqcnn_planner.policies import PolicyConfig
from gqcnn_planner.sampling import sample_antipodal


def shadowed_box(baseline: float) -> tuple[Scene, np.ndarray, np.ndarray]:
    """A 3 x 7 x 8 cm box seen with an emitter `baseline` m along +x (or -x when negative): the shadow's holes and
    the nearest-filled depth the planner gets."""
    scene = Scene(size=(0.03, 0.07, 0.08), yaw=0.0, camera_position=(0.05, 0.15, 0.66))
    depth = scene.depth if baseline > 0 else scene.depth[:, ::-1]
    holes = occluded_from_emitter(depth, scene.camera.fx, abs(baseline))
    if baseline < 0:
        holes = holes[:, ::-1]
    return scene, holes, inpaint(np.where(holes, np.nan, scene.depth))


def check_with_shadows_read(scene: Scene, filled: np.ndarray, holes: np.ndarray
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For 1000 grasps sampled on the sensed image: cleared by the check with the shadows read, cleared on the
    undamaged image, and colliding in the labels' mesh check."""
    config = PolicyConfig()
    sampled = sample_antipodal(filled, scene.camera, np.random.default_rng(0), 1000, scene.mask, config.sampler)
    depth, left = sensed_surface(filled, holes)
    clear = gripper_clear(depth, sampled, scene.camera, config.gripper, table_normal(filled, scene.camera), holes=left)
    truth = gripper_clear(scene.depth, sampled, scene.camera, config.gripper, table_normal(scene.depth, scene.camera))
    return clear, truth, scene.mesh_collisions(sampled, config.gripper)


def test_emitter_shadows_are_found_on_the_side_away_from_the_emitter_either_way():
    for baseline in (0.075, -0.075):
        scene, holes, filled = shadowed_box(baseline)
        depth, left = read_emitter_shadows(filled, holes)
        shadow = holes & ~left
        assert holes.sum() > 200 and shadow.sum() > 0.4 * holes.sum()
        # The shadow lies on the table: it takes the table's depth, not the box top's (8 cm nearer).
        assert np.all(np.abs(depth[shadow] - scene.depth[shadow]) < 0.02)


def test_gripper_clear_reads_a_shadow_as_the_far_surface_it_falls_on():
    """Nearest filling puts half of the shadow at the box top's depth, a phantom wall beside the box that blocked
    the finger on that side; read as the table it lies on, grasps there are cleared (142 of the 221 the undamaged
    image clears; 67 keeping 3 px next to the box as holes, 39 without the shadow reading), and none of them
    collides unless the undamaged image clears it too."""
    scene, holes, filled = shadowed_box(0.075)
    clear, truth, collides = check_with_shadows_read(scene, filled, holes)
    assert truth.sum() >= 200
    assert clear.sum() >= 120
    # The check clears 5 grasps on this box that collide even from the undamaged image (deep grasps beside its 8 cm
    # wall); the shadow's reading must add none.
    assert not (clear & collides & ~truth).any()


def test_shadow_reading_on_a_structured_light_image_clears_no_grasp_that_collides():
    """The whole structured-light model (edge bands on both sides of each step, material blobs, noise), read as the
    planner does (`sensed_surface`): many more grasps clear (156 of the 178 the undamaged image clears; 105 when
    every hole other than the shadows was read along the rays, 27 without the shadow reading) and none that collides
    unless the undamaged image clears it too."""
    scene, _, _ = shadowed_box(0.075)
    raw = apply_sensor(scene.depth, scene.camera, "structured_light", np.random.default_rng(0))
    holes, filled = missing(raw), inpaint(raw)
    clear, truth, collides = check_with_shadows_read(scene, filled, holes)
    assert clear.sum() >= 140
    assert not (clear & collides & ~truth).any()
