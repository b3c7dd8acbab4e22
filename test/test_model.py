"""gqcnn_core.model: faulty models and cards are a ModelError, never a q; crop windows scale with the camera."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from gqcnn_core.camera import CameraIntrinsics
from gqcnn_core.crop import CROP_TRANSFORM_VERSION
from gqcnn_core.model import GQCNN, ModelError

CARD = {
    "format": "gqcnn-model-card-v1",
    "crop": {"window_px": 96, "out_px": 32, "transform_version": CROP_TRANSFORM_VERSION},
    "camera": {"fx": 525.0, "fy": 525.0, "width": 640, "height": 480, "depth_range_m": [0.6, 0.75]},
}


def write_constant_model(path: Path, value: float, copies: int = 1, card: dict | None = None) -> Path:
    """A model with the GQ-CNN contract that returns `value` for every crop, `copies` times over."""
    inits = [helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
             helper.make_tensor("value", TensorProto.FLOAT, [], [value])]
    nodes = [
        helper.make_node("ReduceMean", ["crops"], ["mean"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Mul", ["mean", "zero"], ["zeros"]),
        helper.make_node("Add", ["zeros", "value"], ["q"]),
        helper.make_node("Concat", ["q"] * copies, ["p_success"], axis=0),
    ]
    graph = helper.make_graph(
        nodes, "constant",
        [helper.make_tensor_value_info("crops", TensorProto.FLOAT, ["N", 1, 32, 32]),
         helper.make_tensor_value_info("gripper_depth", TensorProto.FLOAT, ["N", 1])],
        [helper.make_tensor_value_info("p_success", TensorProto.FLOAT, ["N"])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    path.with_suffix(".json").write_text(json.dumps(card if card is not None else CARD))
    return path


def batch(n: int = 5) -> tuple[np.ndarray, np.ndarray]:
    return np.full((n, 32, 32), 0.6, np.float32), np.full(n, 0.6, np.float32)


def test_a_good_model_predicts_its_values(tmp_path):
    model = GQCNN.load(write_constant_model(tmp_path / "m.onnx", 0.25), batch_size=2)
    np.testing.assert_allclose(model.predict(*batch()), 0.25)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 5.0, -3.0])
def test_output_outside_0_1_is_a_model_error(tmp_path, value):
    model = GQCNN.load(write_constant_model(tmp_path / "m.onnx", value))
    with pytest.raises(ModelError, match=r"outside \[0, 1\]"):
        model.predict(*batch())


def test_wrong_number_of_outputs_is_a_model_error(tmp_path):
    model = GQCNN.load(write_constant_model(tmp_path / "m.onnx", 0.5, copies=2))
    with pytest.raises(ModelError, match=r"returned shape \[10\] for 5 crops"):
        model.predict(*batch())


@pytest.mark.parametrize(
    ("crop", "message"),
    [
        ("96", "'crop' must be a mapping"),
        ([96, 32], "'crop' must be a mapping"),
        ({"window_px": 0, "out_px": 32, "transform_version": CROP_TRANSFORM_VERSION}, "positive integer window_px"),
        ({"window_px": -96, "out_px": 32, "transform_version": CROP_TRANSFORM_VERSION}, "positive integer window_px"),
        ({"window_px": 96.5, "out_px": 32, "transform_version": CROP_TRANSFORM_VERSION}, "positive integer window_px"),
        ({"out_px": 32, "transform_version": CROP_TRANSFORM_VERSION}, "positive integer window_px"),
    ],
)
def test_bad_crop_entries_are_refused_at_load(tmp_path, crop, message):
    path = write_constant_model(tmp_path / "m.onnx", 0.5, card={**CARD, "crop": crop})
    with pytest.raises(ModelError, match=message) as info:
        GQCNN.load(path)
    assert len(str(info.value).splitlines()) == 1


@pytest.mark.parametrize("camera", ["525", {"fx": 0}, {"fx": -525.0}, {"fx": float("nan")}, {"width": 640}])
def test_bad_camera_entries_are_refused_at_load(tmp_path, camera):
    path = write_constant_model(tmp_path / "m.onnx", 0.5, card={**CARD, "camera": camera})
    with pytest.raises(ModelError, match="'camera' must be a mapping"):
        GQCNN.load(path)


def test_crop_window_scales_with_the_focal_length(tmp_path):
    model = GQCNN.load(write_constant_model(tmp_path / "m.onnx", 0.5))
    assert model.crop_spec.crop_size == 96
    realsense = CameraIntrinsics(fx=900.0, fy=900.0, cx=639.5, cy=359.5, width=1280, height=720)
    scaled = model.for_camera(realsense)
    assert scaled.crop_spec.crop_size == round(96 * 900 / 525) and scaled.crop_spec.out_size == 32
    assert model.crop_spec.crop_size == 96  # the original is unchanged
    same = CameraIntrinsics(fx=525.0, fy=525.0, cx=319.5, cy=239.5, width=640, height=480)
    assert model.for_camera(same).crop_spec.crop_size == 96
    np.testing.assert_allclose(scaled.predict(*batch()), 0.5)
    assert scaled.training_camera["fx"] == 525.0

    no_camera = {k: v for k, v in CARD.items() if k != "camera"}  # older cards: no scaling
    old = GQCNN.load(write_constant_model(tmp_path / "old.onnx", 0.5, card=no_camera))
    assert old.for_camera(realsense).crop_spec.crop_size == 96 and old.training_camera is None
