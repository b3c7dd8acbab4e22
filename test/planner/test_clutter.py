"""The planner in clutter: masks with several objects, label images, neighbours in the collision check."""

import numpy as np
import pytest
from conftest import Heap

from gqcnn_core.model import GQCNN
from gqcnn_planner.collision import gripper_clear, table_normal
from gqcnn_planner.errors import InvalidInputError
from gqcnn_planner.policies import POLICIES, PolicyConfig, plan
from gqcnn_planner.sampling import sample_antipodal
from gqcnn_planner.segmentation import label_segments, segment_objects, segments_at


@pytest.fixture(scope="module")
def model(heuristic_model_path):
    return GQCNN.load(heuristic_model_path)


def on_segment(labels: np.ndarray, grasp, camera) -> int:
    """The label both jaws' contacts lie beside (within 3 px), 0 if they are not on one object."""
    p1, p2 = grasp.endpoints_px(camera)
    found = set()
    for p in (p1, p2):
        u, v = np.round(p).astype(int)
        window = labels[v - 3:v + 4, u - 3:u + 4]
        found |= set(np.unique(window[window > 0]).tolist())
    return found.pop() if len(found) == 1 else 0


def test_the_rendered_heap_has_three_separate_objects(heap):
    assert sorted(np.unique(heap.labels).tolist()) == [0, 1, 2, 3]
    mask, _ = segment_objects(heap.depth, heap.camera)
    assert label_segments(mask).max() == 3  # the perception code finds them as three regions


@pytest.mark.parametrize("policy", POLICIES)
def test_plans_across_every_object_of_a_boolean_mask_and_names_the_segment(policy, heap, model):
    labels = label_segments(heap.mask)
    picked = set()
    for seed in range(3):
        planned = plan(policy, heap.depth, heap.camera, model, np.random.default_rng(seed), heap.mask,
                       config=PolicyConfig(top_k=1000))
        assert planned.segment_id in (1, 2, 3)
        assert on_segment(labels, planned.grasp, heap.camera) == planned.segment_id
        picked.add(planned.segment_id)
        if policy == "ranking":  # its candidates come from every object, not just the first region
            assert set(segments_at(labels, planned.candidates.centers).tolist()) == {1, 2, 3}
    assert picked


def test_a_label_image_keeps_its_labels(heap, model):
    relabelled = np.select([heap.labels == 1, heap.labels == 2, heap.labels == 3], [7, 20, 9], 0).astype(np.uint16)
    planned = plan("ranking", heap.depth, heap.camera, model, np.random.default_rng(0), relabelled)
    assert planned.segment_id in (7, 20, 9)
    assert on_segment(relabelled, planned.grasp, heap.camera) == planned.segment_id
    only_one = np.where(relabelled == 9, 9, 0).astype(np.uint16)  # a 0/9 image is a mask: its region gets label 1
    planned = plan("cem", heap.depth, heap.camera, model, np.random.default_rng(0), only_one)
    assert on_segment(heap.labels, planned.grasp, heap.camera) == 3


def test_label_segments_reads_masks_and_label_images():
    mask = np.zeros((10, 10), dtype=np.uint8)
    mask[1:3, 1:3] = 255
    mask[6:9, 6:9] = 255
    assert label_segments(mask).max() == 2  # a 0/255 PNG: one segment per region
    mask[6:9, 6:9] = 4
    assert sorted(np.unique(label_segments(mask)).tolist()) == [0, 4, 255]
    with pytest.raises(InvalidInputError, match="labels must be >= 0"):
        plan("ranking", np.full((200, 200), 0.7, np.float32), _camera(200), None, np.random.default_rng(0),
             np.where(np.eye(200, dtype=bool), -1, 3))


def _camera(size):
    from gqcnn_core.camera import CameraIntrinsics

    return CameraIntrinsics(fx=500.0, fy=500.0, cx=size / 2, cy=size / 2, width=size, height=size)


def test_collision_check_covers_neighbours_outside_the_mask(model):
    """Two boxes 2 cm apart, only one in the mask: grasps on it whose opened finger would land on its neighbour
    are sampled, and none of them comes back from the planner."""
    heap = Heap([((0.03, 0.06, 0.05), (-0.025, 0.0), 0.0), ((0.03, 0.06, 0.07), (0.025, 0.0), 0.0)])
    mask = heap.labels == 1
    config = PolicyConfig(top_k=1000)
    up = table_normal(heap.depth, heap.camera)
    sampled = sample_antipodal(heap.depth, heap.camera, np.random.default_rng(0), 1000, mask, config.sampler)
    clear_alone = gripper_clear(np.where(heap.labels == 2, heap.depth.max(), heap.depth), sampled, heap.camera,
                                config.gripper, up)
    clear_in_heap = gripper_clear(heap.depth, sampled, heap.camera, config.gripper, up)
    assert (clear_alone & ~clear_in_heap).any()  # the neighbour blocks grasps that would be fine alone
    planned = plan("ranking", heap.depth, heap.camera, model, np.random.default_rng(0), mask, config=config)
    assert planned.segment_id == 1
    assert gripper_clear(heap.depth, planned.candidates, heap.camera, config.gripper, up).all()


def test_gqcnn_plan_reads_a_label_image_and_prints_the_picked_segment(heap, heuristic_model_path, tmp_path, capsys):
    import json

    import yaml
    from PIL import Image

    from gqcnn_planner.cli import main

    np.save(tmp_path / "depth.npy", heap.depth)
    (tmp_path / "cam.yaml").write_text(yaml.safe_dump(heap.camera.to_yaml_dict()))
    Image.fromarray((heap.labels * 40).astype(np.uint8)).save(tmp_path / "labels.png")  # labels 40, 80, 120
    assert main(["--depth", str(tmp_path / "depth.npy"), "--intrinsics", str(tmp_path / "cam.yaml"),
                 "--segmask", str(tmp_path / "labels.png"), "--model", str(heuristic_model_path)]) == 0
    line = json.loads(capsys.readouterr().out)
    assert line["segment_id"] in (40, 80, 120)
