"""A hand-written ONNX 'GQ-CNN' for planner tests that must not depend on training.

It scores a crop by how much higher the middle (between the jaws) is than the two jaw regions at the crop's
left and right ends: high when an object sits between the jaws and the fingers land on lower ground. It has
the exact input/output contract and model card of an exported GQ-CNN, so the planner cannot tell.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from gqcnn_core.crop import CROP_TRANSFORM_VERSION


def region_mean(name: str, rows: tuple[int, int], cols: tuple[int, int], nodes: list, inits: list) -> str:
    starts, ends, axes = f"{name}_s", f"{name}_e", f"{name}_a"
    inits += [helper.make_tensor(starts, TensorProto.INT64, [2], [rows[0], cols[0]]),
              helper.make_tensor(ends, TensorProto.INT64, [2], [rows[1], cols[1]]),
              helper.make_tensor(axes, TensorProto.INT64, [2], [2, 3])]
    nodes += [helper.make_node("Slice", ["crops", starts, ends, axes], [f"{name}_slice"]),
              helper.make_node("ReduceMean", [f"{name}_slice"], [f"{name}_mean"], axes=[1, 2, 3], keepdims=0)]
    return f"{name}_mean"


def write_heuristic_model(path: Path, gain: float = 150.0) -> Path:
    nodes: list = []
    inits: list = []
    middle = region_mean("middle", (12, 20), (13, 19), nodes, inits)
    left = region_mean("left", (12, 20), (0, 4), nodes, inits)
    right = region_mean("right", (12, 20), (28, 32), nodes, inits)
    inits += [helper.make_tensor("gain", TensorProto.FLOAT, [], [gain]),
              helper.make_tensor("bias", TensorProto.FLOAT, [], [-1.0])]
    nodes += [
        helper.make_node("Min", [left, right], ["jaws"]),
        helper.make_node("Sub", ["jaws", middle], ["height"]),  # > 0 when the middle is nearer the camera
        helper.make_node("Mul", ["height", "gain"], ["scaled"]),
        helper.make_node("Add", ["scaled", "bias"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["p_success"]),
    ]
    graph = helper.make_graph(
        nodes, "heuristic_gqcnn",
        [helper.make_tensor_value_info("crops", TensorProto.FLOAT, ["N", 1, 32, 32]),
         helper.make_tensor_value_info("gripper_depth", TensorProto.FLOAT, ["N", 1])],
        [helper.make_tensor_value_info("p_success", TensorProto.FLOAT, ["N"])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = Path(path)
    onnx.save(model, path)
    card = {"format": "gqcnn-model-card-v1", "name": "heuristic test model",
            "crop": {"transform_version": CROP_TRANSFORM_VERSION, "window_px": 96, "out_px": 32}}
    path.with_suffix(".json").write_text(json.dumps(card))
    return path


def heuristic_q(crops: np.ndarray, gain: float = 150.0) -> np.ndarray:
    """The same function in numpy (to check the planner evaluates what it should)."""
    middle = crops[:, 12:20, 13:19].mean(axis=(1, 2))
    jaws = np.minimum(crops[:, 12:20, 0:4].mean(axis=(1, 2)), crops[:, 12:20, 28:32].mean(axis=(1, 2)))
    return 1 / (1 + np.exp(-(gain * (jaws - middle) - 1.0)))
