"""A trained GQ-CNN as the planner uses it: an ONNX file plus its model card, run with onnxruntime.

`dexnet export` writes `NAME.onnx` and the card `NAME.json` beside it. The graph's contract:
    inputs   crops          float32 (N, 1, 32, 32)  raw grasp-aligned depth crops, metres
             gripper_depth  float32 (N, 1)          gripper depth along the camera z axis, metres
    output   p_success      float32 (N,)            probability that the grasp succeeds
Normalisation is inside the graph, so callers pass metric values straight from `gqcnn_core.crop`.
The card records the crop transform the training data was cut with; a model whose transform differs from
this code's CROP_TRANSFORM_VERSION is refused, since its scores would be meaningless.

ROS-free and torch-free: only numpy and onnxruntime.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort

from gqcnn_core.crop import CROP_TRANSFORM_VERSION, CropSpec

CROPS_INPUT = "crops"
DEPTH_INPUT = "gripper_depth"
OUTPUT_NAME = "p_success"
CARD_FORMAT = "gqcnn-model-card-v1"
CROP_PX = 32  # network input side


class ModelError(RuntimeError):
    """A model file or card that cannot be used; the message is one sentence saying why."""


def card_path(model_path: Path) -> Path:
    """The model card of `NAME.onnx` is `NAME.json` beside it."""
    return Path(model_path).with_suffix(".json")


def _dims(shape: list) -> list:
    # Symbolic (dynamic) dimensions come back as strings or None; keep only the fixed ones as ints.
    return [d if isinstance(d, int) else "N" for d in shape]


class GQCNN:
    """P(success) of grasps from their depth crops; load with `GQCNN.load(path)`."""

    def __init__(self, session: ort.InferenceSession, card: dict, path: Path, batch_size: int = 256) -> None:
        if batch_size < 1:
            raise ValueError(f"batch size must be at least 1, got {batch_size}")
        self._session = session
        self._card = card
        self._path = Path(path)
        self.batch_size = int(batch_size)

    @classmethod
    def load(cls, path: str | Path, batch_size: int = 256, threads: int | None = None) -> GQCNN:
        """Open `path` (.onnx) and its card; `threads` sets onnxruntime's intra-op threads (None: its default).

        Raises ModelError for a missing file, a file that is not ONNX, a missing or unreadable card, inputs
        other than crops (N, 1, 32, 32) and gripper_depth (N, 1), or a crop transform that differs from this code's.
        """
        path = Path(path)
        if not path.is_file():
            raise ModelError(f"{path}: model file not found")
        card_file = card_path(path)
        if not card_file.is_file():
            raise ModelError(f"{path}: model card {card_file.name} not found beside it (dexnet export writes it)")
        try:
            card = json.loads(card_file.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ModelError(f"{card_file}: unreadable model card ({err})") from err
        if not isinstance(card, dict) or card.get("format") != CARD_FORMAT:
            raise ModelError(f"{card_file}: not a GQ-CNN model card (expected format '{CARD_FORMAT}')")

        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only: the planner logs its own messages
        if threads:
            options.intra_op_num_threads = int(threads)
            options.inter_op_num_threads = 1
        try:
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own exception types for invalid files
            reason = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
            raise ModelError(f"{path}: not a valid ONNX model ({reason})") from err

        expected = {CROPS_INPUT: ["N", 1, CROP_PX, CROP_PX], DEPTH_INPUT: ["N", 1]}
        inputs = {i.name: i for i in session.get_inputs()}
        if set(inputs) != set(expected):
            raise ModelError(
                f"{path}: model inputs are {sorted(inputs)}, expected {sorted(expected)} (not a GQ-CNN export?)"
            )
        for name, shape in expected.items():
            got = _dims(inputs[name].shape)
            if got != shape:
                raise ModelError(f"{path}: input '{name}' has shape {got}, expected {shape} (N = batch)")
            if inputs[name].type != "tensor(float)":
                raise ModelError(f"{path}: input '{name}' is {inputs[name].type}, expected tensor(float)")
        outputs = session.get_outputs()
        if len(outputs) != 1 or _dims(outputs[0].shape) != ["N"]:
            shapes = [(o.name, _dims(o.shape)) for o in outputs]
            raise ModelError(f"{path}: outputs are {shapes}, expected one '{OUTPUT_NAME}' of shape [N]")

        crop = card.get("crop", {})
        version = crop.get("transform_version")
        if version != CROP_TRANSFORM_VERSION:
            raise ModelError(
                f"{path}: trained on crops cut with transform '{version}', but this planner cuts "
                f"'{CROP_TRANSFORM_VERSION}'; retrain or re-export the model with matching crops"
            )
        if crop.get("out_px") != CROP_PX or not isinstance(crop.get("window_px"), int):
            raise ModelError(f"{card_file}: crop entry {crop} lacks window_px or has out_px other than {CROP_PX}")
        return cls(session, card, path, batch_size)

    @property
    def path(self) -> Path:
        return self._path

    @property
    def card(self) -> dict:
        """The model card (a copy): input contract, dataset hash, training config, metrics, speed."""
        return json.loads(json.dumps(self._card))

    @property
    def crop_spec(self) -> CropSpec:
        """The crop window (source px) and network input size (px) the model was trained with."""
        crop = self._card["crop"]
        return CropSpec(crop_size=int(crop["window_px"]), out_size=int(crop["out_px"]))

    @property
    def crop_transform_version(self) -> str:
        return str(self._card["crop"]["transform_version"])

    def predict(self, crops: np.ndarray, depths: np.ndarray) -> np.ndarray:
        """P(success) (N,) float32 for crops (N, 32, 32) float32 metres and gripper depths (N,) metres.

        Runs in chunks of `batch_size`. Raises ValueError for mismatched shapes or non-finite inputs.
        """
        crops = np.asarray(crops, dtype=np.float32)
        depths = np.asarray(depths, dtype=np.float32).reshape(-1)
        if crops.ndim == 4 and crops.shape[1] == 1:
            crops = crops[:, 0]
        if crops.ndim != 3 or crops.shape[1:] != (CROP_PX, CROP_PX):
            raise ValueError(f"crops must be (N, {CROP_PX}, {CROP_PX}), got shape {crops.shape}")
        if len(crops) != len(depths):
            raise ValueError(f"{len(crops)} crops but {len(depths)} gripper depths")
        if not (np.isfinite(crops).all() and np.isfinite(depths).all()):
            raise ValueError("crops or gripper depths contain NaN/inf: inpaint the depth image first")
        out = np.empty(len(crops), dtype=np.float32)
        for start in range(0, len(crops), self.batch_size):
            stop = start + self.batch_size
            feeds = {
                CROPS_INPUT: np.ascontiguousarray(crops[start:stop, None]),
                DEPTH_INPUT: np.ascontiguousarray(depths[start:stop, None]),
            }
            out[start:stop] = self._session.run(None, feeds)[0]
        return out
