"""Starting weights for fine-tuning (`dexnet train --init`): a training run, a weights file or a shipped ONNX model.

An exported model is a plain ONNX graph whose initializers are the torch state (`model.<name>`, as
`torch.onnx.export` names the submodule of `SuccessProbability`), so the network of the card's layout is
rebuilt from them with `onnx.numpy_helper`; the result must reproduce the ONNX model's P(success) on a batch
of plausible inputs (parity), or the import is refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from dexnet.network import GQCNNNet, NetworkConfig, load_weights, preset, preset_name
from dexnet.run_dir import is_run_dir, load_run_config, load_run_model, portable_path

PARITY_TOLERANCE = 1e-4
STATE_PREFIX = "model."


@dataclass(frozen=True)
class InitialModel:
    """A network to fine-tune and where it came from (kind, portable source path, preset name, parity)."""

    model: GQCNNNet
    info: dict

    @property
    def preset(self) -> str | None:
        return preset_name(self.model.config)


def _onnx_model(path: Path) -> tuple[GQCNNNet, dict]:
    from gqcnn_core.model import GQCNN, ModelError, card_path

    try:
        onnx_model = GQCNN.load(path, threads=1)  # the planner's own checks: contract, card, crop transform
    except ModelError as err:
        raise ValueError(str(err)) from err
    card = json.loads(card_path(path).read_text())
    network = card.get("network") or {}
    if isinstance(network.get("config"), dict):
        config = NetworkConfig.from_dict(network["config"])
    elif isinstance(network.get("preset"), str):
        config = preset(network["preset"])
    else:
        raise ValueError(f"{card_path(path)}: the model card names no network layout (network.config or preset)")
    model = GQCNNNet(config)
    state = model.state_dict()
    initializers = {
        i.name[len(STATE_PREFIX) :]: numpy_helper.to_array(i)
        for i in onnx.load(str(path)).graph.initializer
        if i.name.startswith(STATE_PREFIX)
    }
    missing = sorted(set(state) - set(initializers))
    if missing:
        raise ValueError(f"{path}: the ONNX graph lacks tensors of the {config} network: {missing[:4]}")
    for name, value in state.items():
        if tuple(initializers[name].shape) != tuple(value.shape):
            raise ValueError(
                f"{path}: tensor {name} has shape {initializers[name].shape}, expected {tuple(value.shape)}"
            )
        state[name] = torch.from_numpy(np.array(initializers[name], dtype=np.float32))
    model.load_state_dict(state)
    model.eval()
    parity = _parity(model, onnx_model, card.get("calibration") or {})
    if not parity < PARITY_TOLERANCE:
        raise ValueError(
            f"{path}: the rebuilt network differs from the ONNX model by {parity:.1e} (not a GQ-CNN export?)"
        )
    return model, {"kind": "onnx", "parity_max_abs_diff": parity,
                   "manifest_hash": (card.get("dataset") or {}).get("manifest_hash")}


def _parity(model: GQCNNNet, onnx_model, calibration: dict) -> float:
    """Max |P| difference between the rebuilt torch network (with the card's calibration) and the ONNX model."""
    from dexnet.calibrate import calibrated_probability

    rng = np.random.default_rng(0)
    norm = model.normalization()
    crops = norm["crop_mean"] + norm["crop_std"] * rng.standard_normal((64, 32, 32))
    depths = norm["depth_mean"] + norm["depth_std"] * rng.standard_normal(64)
    crops, depths = crops.astype(np.float32), depths.astype(np.float32)
    with torch.no_grad():
        logits = model(torch.from_numpy(crops)[:, None], torch.from_numpy(depths)[:, None])
        log_odds = (logits[:, 1] - logits[:, 0] + model.prior_log_odds).numpy()
    expected = calibrated_probability(log_odds, calibration.get("temperature", 1.0), calibration.get("bias", 0.0))
    return float(np.max(np.abs(onnx_model.predict(crops, depths) - expected)))


def initial_model(source: Path) -> InitialModel:
    """The network to start fine-tuning from, with facts about it for the run config.

    `source` is a training run directory (its best weights), a weights file (.pt) or an exported model (.onnx
    with its card). Raises FileNotFoundError / ValueError with a one-line reason.
    """
    source = Path(source)
    if source.is_dir():
        if not is_run_dir(source):
            raise FileNotFoundError(f"{source}: not a training run directory (no config.json)")
        model, info = load_run_model(source, "best")
        facts = {"kind": "run", "step": info.get("step"), "manifest_hash": load_run_config(source).get("manifest_hash")}
    elif not source.is_file():
        raise FileNotFoundError(f"{source}: no such model, weights file or run directory")
    elif source.suffix == ".onnx":
        model, facts = _onnx_model(source)
    else:
        model, info = load_weights(source)
        facts = {"kind": "weights", "step": info.get("step")}
    facts = {"source": portable_path(source), "preset": preset_name(model.config), **facts}
    return InitialModel(model.eval(), facts)
