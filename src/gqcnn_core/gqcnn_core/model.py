"""A trained GQ-CNN as the planner uses it: an ONNX file plus its model card, run with onnxruntime.

`dexnet export` writes `NAME.onnx` and the card `NAME.json` beside it. The graph's contract:
    inputs   crops          float32 (N, 1, 32, 32)  raw grasp-aligned depth crops, metres
             gripper_depth  float32 (N, 1)          gripper depth along the camera z axis, metres
    output   p_success      float32 (N,)            probability that the grasp succeeds
Normalisation is inside the graph, so callers pass metric values straight from `gqcnn_core.crop`.
The card records the crop transform the training data was cut with; a model whose transform differs from
this code's CROP_TRANSFORM_VERSION is refused, since its scores would be meaningless.

Camera-agnostic crops: the card's `camera` records the training camera's focal length (px). A crop window of
`window_px` pixels at focal length fx_train covers a fixed metric footprint at a given depth; another camera sees
that footprint in window_px * fx / fx_train pixels. `for_camera(camera)` returns the model with its crop window
scaled so (the output stays 32x32), so the network sees objects at the scale it was trained on, whatever the
camera's resolution or focal length. Cards without `camera` (older exports) are not scaled.

Faults are ModelError, never a silently wrong q: a card whose `crop` or `camera` entry is malformed is refused
at load; a graph that fails at run time, returns the wrong number of values or values outside [0, 1] (NaN and
inf included) is refused at predict.

ROS-free and torch-free: only numpy and onnxruntime.
"""

from __future__ import annotations

import copy
import json
from numbers import Real
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


def _positive(value: object) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and bool(np.isfinite(value)) and value > 0


class GQCNN:
    """P(success) of grasps from their depth crops; load with `GQCNN.load(path)`."""

    def __init__(self, session: ort.InferenceSession, card: dict, path: Path, batch_size: int = 256) -> None:
        if batch_size < 1:
            raise ValueError(f"batch size must be at least 1, got {batch_size}")
        self._session = session
        self._card = card
        self._path = Path(path)
        self._crop_spec: CropSpec | None = None  # set by for_camera
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

        crop = card.get("crop")
        if not isinstance(crop, dict):
            raise ModelError(f"{card_file}: 'crop' must be a mapping with window_px, out_px and transform_version")
        version = crop.get("transform_version")
        if version != CROP_TRANSFORM_VERSION:
            raise ModelError(
                f"{path}: trained on crops cut with transform '{version}', but this planner cuts "
                f"'{CROP_TRANSFORM_VERSION}'; retrain or re-export the model with matching crops"
            )
        window = crop.get("window_px")
        if crop.get("out_px") != CROP_PX or not isinstance(window, int) or isinstance(window, bool) or window < 1:
            raise ModelError(
                f"{card_file}: crop entry {crop} needs a positive integer window_px and out_px {CROP_PX}"
            )
        camera = card.get("camera")
        if camera is not None and not (
            isinstance(camera, dict) and _positive(camera.get("fx")) and _positive(camera.get("fy", camera.get("fx")))
        ):
            raise ModelError(f"{card_file}: 'camera' must be a mapping with the training focal length fx > 0 (px)")
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
        """The crop window (source px) and network input size (px): the training camera's, or after
        `for_camera` the given camera's."""
        if self._crop_spec is not None:
            return self._crop_spec
        crop = self._card["crop"]
        return CropSpec(crop_size=int(crop["window_px"]), out_size=int(crop["out_px"]))

    @property
    def training_camera(self) -> dict | None:
        """The card's training camera (fx, fy px; width, height; depth_range_m), or None for older cards."""
        camera = self._card.get("camera")
        return dict(camera) if camera else None

    def crop_spec_for(self, fx: float) -> CropSpec:
        """The crop window for a camera of focal length `fx` (px): the training window scaled by fx / fx_train."""
        camera = self._card.get("camera")
        if not camera:
            return self.crop_spec
        if not _positive(fx):
            raise ValueError(f"focal length must be positive, got {fx}")
        window = max(1, round(self._card["crop"]["window_px"] * float(fx) / float(camera["fx"])))
        return CropSpec(crop_size=window, out_size=int(self._card["crop"]["out_px"]))

    def for_camera(self, camera) -> GQCNN:
        """This model with `crop_spec` scaled to `camera` (anything with fx, fy in px); shares the session."""
        scaled = copy.copy(self)
        scaled._crop_spec = self.crop_spec_for((float(camera.fx) + float(camera.fy)) / 2.0)
        return scaled

    @property
    def crop_transform_version(self) -> str:
        return str(self._card["crop"]["transform_version"])

    def predict(self, crops: np.ndarray, depths: np.ndarray) -> np.ndarray:
        """P(success) (N,) float32 for crops (N, 32, 32) float32 metres and gripper depths (N,) metres.

        Runs in chunks of `batch_size`. Raises ValueError for mismatched shapes or non-finite inputs, and
        ModelError when the graph fails or returns anything but one probability in [0, 1] per crop.
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
            try:
                result = np.asarray(self._session.run(None, feeds)[0])
            except Exception as err:  # onnxruntime's own exception types
                reason = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
                raise ModelError(f"{self._path.name}: inference failed ({reason})") from err
            expected = len(feeds[CROPS_INPUT])
            if result.shape != (expected,):
                raise ModelError(
                    f"{self._path.name}: returned shape {list(result.shape)} for {expected} crops, "
                    f"expected [{expected}]"
                )
            if not np.all((result >= 0.0) & (result <= 1.0)):  # False for NaN too
                bad = result[~((result >= 0.0) & (result <= 1.0))][0]
                raise ModelError(f"{self._path.name}: returned q = {bad}, outside [0, 1]: not a probability")
            out[start:stop] = result
        return out
