import numpy as np
import pytest

from gqcnn_planner.segmentation import SegmentationConfig, segment_objects


def test_box_on_a_tilted_table_is_segmented(scene):
    mask, plane = segment_objects(scene.depth, scene.camera, np.random.default_rng(0))
    overlap = (mask & scene.mask).sum() / scene.mask.sum()
    false_positive = (mask & ~scene.mask).sum() / mask.sum()
    assert overlap > 0.95 and false_positive < 0.05
    # The plane normal points to the camera and matches the table's normal seen from this camera.
    world_up_in_camera = np.linalg.inv(scene.world_camera)[:3, :3] @ np.array([0, 0, 1.0])
    assert plane[:3] @ world_up_in_camera > 0.999


def test_min_height_hides_low_objects(scene):
    mask, _ = segment_objects(scene.depth, scene.camera, np.random.default_rng(0),
                              SegmentationConfig(min_object_height=0.06))
    assert not mask.any()


def test_no_valid_depth_is_an_error(scene):
    with pytest.raises(ValueError, match="too few"):
        segment_objects(np.full_like(scene.depth, np.nan), scene.camera)
