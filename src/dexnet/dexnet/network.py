"""The GQ-CNN (Dex-Net 2.0, Mahler et al. RSS 2017, Fig. 4) in PyTorch, with a CPU-fast variant.

Two input streams merge into a 2-way softmax:
    image stream   crop (N, 1, 32, 32) metres -> 4 conv layers (ReLU, optional LRN, optional 2x2 max-pool) -> fc
    depth stream   gripper depth (N, 1) metres -> fc
    merge          concat -> fc -> 2 logits (failure, success)

The layout is one flat `NetworkConfig`; `PRESETS` holds "reference" (GQ-CNN 2.0 as published) and "fast",
the CPU default: 2x2 pooling right after the first convolution (32 instead of 64 filters) so the expensive
5x5 layer runs at 16x16 instead of 32x32, the second pooling after the third convolution (the last conv
output is 8x8x64 as in the reference), no LRN, 512-wide fully connected layers. ~4.6x fewer multiply-adds
per crop (29 M vs 132 M); see benchmarks/inference.py for measured onnxruntime throughput.

Normalisation constants (crop mean/std, gripper depth mean/std, computed from the training set) are buffers,
so checkpoints and the exported ONNX graph take raw metric inputs and nothing outside the model has to know them.
`GQCNNNet.forward` returns logits (for the loss); `SuccessProbability` wraps it for export and returns
P(success) of shape (N,) -- the contract of the shipped ONNX model.

Class balance: a net trained with a class-weighted loss learns the posterior of a balanced world. The buffer
`prior_log_odds` (log(p / (1 - p)) of the training positive rate p, 0 for an unweighted loss) shifts the
success logit back so that `success_probability` is calibrated to the real class frequencies ("logit
adjustment"); it does not enter the logits used for the loss, and grasp ranking is unaffected by it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
from torch import nn

from dexnet.dataset import atomic_write_bytes

CROP_SIZE = 32  # network input side, pixels (Dex-Net 2.0: 96 px window resized to 32)

# Local response normalisation of the reference (TensorFlow convention: radius 2, alpha 2e-5, beta 0.75,
# bias 1). PyTorch divides alpha by the window size, TensorFlow does not, hence the factor.
LRN_RADIUS = 2
LRN_SIZE = 2 * LRN_RADIUS + 1
LRN_ALPHA = 2.0e-5 * LRN_SIZE
LRN_BETA = 0.75
LRN_BIAS = 1.0


@dataclass(frozen=True)
class NetworkConfig:
    """Layer sizes of a GQ-CNN. Tuples have one entry per convolution layer (there are always four)."""

    conv_filters: tuple[int, int, int, int] = (64, 64, 64, 64)
    conv_kernels: tuple[int, int, int, int] = (7, 5, 3, 3)
    pool_after: tuple[bool, bool, bool, bool] = (False, True, False, True)  # 2x2 max-pool, stride 2
    lrn_after: tuple[bool, bool, bool, bool] = (False, True, False, True)
    image_fc: int = 1024
    depth_fc: int = 16
    merge_fc: int = 1024

    def __post_init__(self) -> None:
        for name in ("conv_filters", "conv_kernels", "pool_after", "lrn_after"):
            value = tuple(getattr(self, name))
            if len(value) != 4:
                raise ValueError(f"NetworkConfig.{name} needs 4 entries (one per conv layer), got {len(value)}")
            object.__setattr__(self, name, value)  # lists from JSON/YAML become tuples
        if any(k % 2 == 0 or k < 1 for k in self.conv_kernels):
            raise ValueError(f"conv kernels must be odd and positive ('same' padding), got {self.conv_kernels}")
        if min(*self.conv_filters, self.image_fc, self.depth_fc, self.merge_fc) < 1:
            raise ValueError("layer widths must be positive")

    @property
    def feature_side(self) -> int:
        """Side in pixels of the last conv feature map."""
        return CROP_SIZE // 2 ** sum(self.pool_after)

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict) -> NetworkConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown network config keys: {sorted(unknown)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


PRESETS: dict[str, NetworkConfig] = {
    "reference": NetworkConfig(),
    "fast": NetworkConfig(
        conv_filters=(32, 64, 64, 64),
        conv_kernels=(7, 5, 3, 3),
        pool_after=(True, False, True, False),
        lrn_after=(False, False, False, False),
        image_fc=512,
        depth_fc=16,
        merge_fc=512,
    ),
}
DEFAULT_PRESET = "fast"


def preset(name: str) -> NetworkConfig:
    """The named network layout ("reference" or "fast")."""
    if name not in PRESETS:
        raise ValueError(f"unknown network preset '{name}', expected one of {', '.join(PRESETS)}")
    return PRESETS[name]


class GQCNNNet(nn.Module):
    """Grasp quality CNN on raw metric inputs; `forward` returns logits (N, 2), column 1 = success."""

    def __init__(self, config: NetworkConfig = PRESETS[DEFAULT_PRESET]) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        channels = 1
        for filters, kernel, pool, lrn in zip(
            config.conv_filters, config.conv_kernels, config.pool_after, config.lrn_after, strict=True
        ):
            layers += [nn.Conv2d(channels, filters, kernel, padding=kernel // 2), nn.ReLU(inplace=True)]
            if lrn:
                layers.append(nn.LocalResponseNorm(LRN_SIZE, alpha=LRN_ALPHA, beta=LRN_BETA, k=LRN_BIAS))
            if pool:
                layers.append(nn.MaxPool2d(2, 2))
            channels = filters
        self.conv = nn.Sequential(*layers)
        self.image_fc = nn.Sequential(
            nn.Flatten(), nn.Linear(channels * config.feature_side**2, config.image_fc), nn.ReLU(inplace=True)
        )
        self.depth_fc = nn.Sequential(nn.Linear(1, config.depth_fc), nn.ReLU(inplace=True))
        self.merge_fc = nn.Sequential(
            nn.Linear(config.image_fc + config.depth_fc, config.merge_fc), nn.ReLU(inplace=True)
        )
        self.logits = nn.Linear(config.merge_fc, 2)
        # Identity normalisation until `set_normalization` is called with training-set statistics.
        for name, value in (
            ("crop_mean", 0.0),
            ("crop_std", 1.0),
            ("depth_mean", 0.0),
            ("depth_std", 1.0),
            ("prior_log_odds", 0.0),
        ):
            self.register_buffer(name, torch.tensor(value, dtype=torch.float32))
        self._init_weights()

    def _init_weights(self) -> None:
        # He initialisation suits ReLU layers; biases start at zero.
        for module in self.modules():
            if isinstance(module, nn.Conv2d | nn.Linear):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                nn.init.zeros_(module.bias)
        nn.init.normal_(self.logits.weight, std=0.01)

    def set_normalization(self, crop_mean: float, crop_std: float, depth_mean: float, depth_std: float) -> None:
        """Store training-set statistics (metres); stds are floored to avoid dividing by ~0."""
        self.crop_mean.fill_(float(crop_mean))
        self.crop_std.fill_(max(float(crop_std), 1e-6))
        self.depth_mean.fill_(float(depth_mean))
        self.depth_std.fill_(max(float(depth_std), 1e-6))

    def normalization(self) -> dict[str, float]:
        """The input statistics (metres) and the prior log-odds baked into the model."""
        keys = ("crop_mean", "crop_std", "depth_mean", "depth_std", "prior_log_odds")
        return {k: float(getattr(self, k)) for k in keys}

    def forward(self, crops: torch.Tensor, gripper_depth: torch.Tensor) -> torch.Tensor:
        """crops (N, 1, 32, 32) metres, gripper_depth (N, 1) metres -> logits (N, 2)."""
        image = self.image_fc(self.conv((crops - self.crop_mean) / self.crop_std))
        depth = self.depth_fc((gripper_depth - self.depth_mean) / self.depth_std)
        return self.logits(self.merge_fc(torch.cat([image, depth], dim=1)))

    def success_probability(self, crops: torch.Tensor, gripper_depth: torch.Tensor) -> torch.Tensor:
        """P(success) (N,) for raw metric inputs, calibrated by `prior_log_odds`."""
        logits = self(crops, gripper_depth)
        # softmax(l)[1] == sigmoid(l1 - l0); the prior shift applies to that log-odds.
        return torch.sigmoid(logits[:, 1] - logits[:, 0] + self.prior_log_odds)


class SuccessProbability(nn.Module):
    """Export head: raw metric inputs -> P(success) (N,) float32, the softmax's success column.

    `temperature` and `bias` bake a calibration (dexnet.calibrate, fitted on validation objects) into the graph:
    P = sigmoid(log_odds / temperature + bias); the defaults leave the network's own probability unchanged.
    """

    def __init__(self, model: GQCNNNet, temperature: float = 1.0, bias: float = 0.0) -> None:
        super().__init__()
        if not temperature > 0:
            raise ValueError(f"calibration temperature must be positive, got {temperature}")
        self.model = model
        self.register_buffer("temperature", torch.tensor(float(temperature), dtype=torch.float32))
        self.register_buffer("bias", torch.tensor(float(bias), dtype=torch.float32))

    def forward(self, crops: torch.Tensor, gripper_depth: torch.Tensor) -> torch.Tensor:
        logits = self.model(crops, gripper_depth)
        log_odds = logits[:, 1] - logits[:, 0] + self.model.prior_log_odds
        return torch.sigmoid(log_odds / self.temperature + self.bias)


@torch.no_grad()
def predict_log_odds(model: GQCNNNet, crops: np.ndarray, depths: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """log(P / (1 - P)) (N,) of the calibrated-to-prior P(success), for crops (N,32,32) and depths (N,), metres."""
    model.eval()
    out = np.empty(len(crops), dtype=np.float32)
    for start in range(0, len(crops), batch_size):
        c = torch.from_numpy(np.ascontiguousarray(crops[start : start + batch_size], dtype=np.float32))
        d = torch.from_numpy(np.ascontiguousarray(depths[start : start + batch_size], dtype=np.float32))
        logits = model(c[:, None], d[:, None])
        out[start : start + batch_size] = (logits[:, 1] - logits[:, 0] + model.prior_log_odds).numpy()
    return out


def predict_probabilities(model: GQCNNNet, crops: np.ndarray, depths: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """P(success) (N,) of a torch GQ-CNN (`success_probability`) for crops (N,32,32) and depths (N,), metres."""
    log_odds = predict_log_odds(model, crops, depths, batch_size)
    return (1.0 / (1.0 + np.exp(-log_odds.astype(np.float64)))).astype(np.float32)


def preset_name(config: NetworkConfig) -> str | None:
    """The name of the preset with this layout, or None for a custom one."""
    return next((name for name, value in PRESETS.items() if value == config), None)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def multiply_accumulates(config: NetworkConfig) -> int:
    """Multiply-accumulates per crop (convolutions and fully connected layers), a device-free cost measure."""
    total, side, channels = 0, CROP_SIZE, 1
    for filters, kernel, pool in zip(config.conv_filters, config.conv_kernels, config.pool_after, strict=True):
        total += side * side * kernel * kernel * channels * filters
        side, channels = (side // 2 if pool else side), filters
    total += side * side * channels * config.image_fc + config.depth_fc
    total += (config.image_fc + config.depth_fc) * config.merge_fc + config.merge_fc * 2
    return total


WEIGHTS_FORMAT = "dexnet-gqcnn-weights-v1"


def save_weights(path: Path, model: GQCNNNet, **info: object) -> None:
    """Atomically write a self-describing weights file (layout + state incl. normalisation + `info`)."""
    payload = {"format": WEIGHTS_FORMAT, "network": model.config.to_dict(), "state_dict": model.state_dict(), **info}
    atomic_write_bytes(Path(path), lambda f: torch.save(payload, f))


def load_weights(path: Path) -> tuple[GQCNNNet, dict]:
    """Rebuild a network from `save_weights` output; returns it in eval mode and the extra info saved with it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such weights file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises assorted types for corrupt or foreign files
        raise ValueError(f"{path}: not a readable GQ-CNN weights file ({type(err).__name__})") from err
    if not isinstance(payload, dict) or payload.get("format") != WEIGHTS_FORMAT:
        raise ValueError(f"{path}: not a GQ-CNN weights file (expected format {WEIGHTS_FORMAT})")
    model = GQCNNNet(NetworkConfig.from_dict(payload["network"]))
    model.load_state_dict(payload["state_dict"])
    info = {k: v for k, v in payload.items() if k not in ("format", "network", "state_dict")}
    return model.eval(), info
