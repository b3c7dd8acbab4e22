"""The collision check on tall objects seen by a tilted camera (a reviewer's finding, kept as a strict xfail)."""

import numpy as np
import pytest
from conftest import Scene

from gqcnn_planner.collision import gripper_clear, table_normal
from gqcnn_planner.policies import PolicyConfig
from gqcnn_planner.sampling import sample_antipodal


@pytest.mark.xfail(strict=True, reason=(
    "TableHeights fills a cell it cannot see with the lowest height seen within hidden_span (3 cm): behind a "
    "12 cm tall box seen 25 deg off vertical the hidden strip is ~5.5 cm deep and wider than 6 cm, so beside the "
    "far wall the nearest seen cells are the box's own top (or none: +inf) and the far finger of nearly every "
    "grasp is blocked, the failure the height field was meant to remove (0 of 125 mesh-free grasps cleared; "
    "18% of all sampled with hidden_span 8 cm)"))
def test_a_tall_box_seen_by_a_tilted_camera_keeps_grasps_beside_its_far_wall():
    """A 4 x 10 x 12 cm box grasped across its 4 cm side, the camera tilted 25 deg (the dataset's largest tilt)
    along the grasp axis: the labels' mesh check finds most sampled grasps free; the image check should clear
    a fair share of them, not block them on the strip the camera cannot see."""
    scene = Scene(size=(0.04, 0.10, 0.12), position=(0.0, 0.0), yaw=np.pi / 2, camera_position=(0.0, 0.27, 0.59))
    config = PolicyConfig()
    sampled = sample_antipodal(scene.depth, scene.camera, np.random.default_rng(0), 1000, scene.mask, config.sampler)
    clear = gripper_clear(scene.depth, sampled, scene.camera, config.gripper, table_normal(scene.depth, scene.camera))
    free = ~scene.mesh_collisions(sampled, config.gripper)
    assert free.sum() >= 50  # the scene offers collision-free grasps
    assert (clear & free).sum() >= 10
