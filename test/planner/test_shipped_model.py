"""The shipped GQ-CNN on rendered scenes of held-out (test split) objects."""

import numpy as np
import pytest

from benchmarks.planning_time import held_out_scenes  # the benchmark's scenes: one definition
from gqcnn_core.model import GQCNN
from gqcnn_core.paths import default_model_path
from gqcnn_planner.policies import PolicyConfig, plan


@pytest.fixture(scope="module")
def model():
    return GQCNN.load(default_model_path())


def test_shipped_model_card_matches_the_planner(model):
    card = model.card
    assert card["crop"]["window_px"] == 96 and card["crop"]["out_px"] == 32
    assert card["dataset"]["manifest_hash"] and card["metrics"]
    assert model.path.stat().st_size < 25 * 2**20


def test_planned_grasps_straddle_held_out_objects_and_beat_the_median(model):
    for scene in held_out_scenes(4, seed=7):
        name, depth, mask, camera = scene["name"], scene["depth"], scene["mask"], scene["camera"]
        everything = plan("ranking", depth, camera, model, np.random.default_rng(0), mask,
                          config=PolicyConfig(top_k=10_000))
        best = everything.grasp
        p1, p2 = best.endpoints_px(camera)
        mid = np.round((p1 + p2) / 2).astype(int)
        assert mask[mid[1] - 2:mid[1] + 3, mid[0] - 2:mid[0] + 3].any(), name  # object between the jaws
        near = np.argwhere(mask)[:, ::-1]
        assert all(np.linalg.norm(near - p, axis=1).min() < 6 for p in (p1, p2)), name  # jaws at its rim
        assert everything.q_value > np.median(everything.q_values), name
        cem = plan("cem", depth, camera, model, np.random.default_rng(0), mask)
        assert cem.q_value >= everything.q_value - 1e-6, name
