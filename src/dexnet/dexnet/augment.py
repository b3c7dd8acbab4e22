"""Online augmentation of depth crops during GQ-CNN training (Dex-Net 2.0, Sec. V-B).

Applied to a whole batch at once, in this order:
    multiplicative noise   each crop is scaled by one Gamma(shape 1000, scale 0.001) sample (mean 1, std ~3%),
                           modelling depth-scale error of the sensor
    Gaussian-process noise with probability `gp_rate` a crop gets a smooth additive field: i.i.d. N(0, sigma^2)
                           samples (sigma 0.005 m) on a coarse grid (1/4 of the crop side), upsampled bicubically
    symmetries             independent left-right and up-down flips with probability 1/2 each, i.e. a uniform
                           choice of {identity, flip lr, flip ud, 180 deg rotation}; the crops are centred on the
                           grasp with its axis horizontal, so every one of these maps the grasp onto itself

The gripper depth is left unchanged. Everything draws from the given numpy Generator, so a batch augmented
with the same seed is the same batch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage


@dataclass(frozen=True)
class AugmentConfig:
    """Noise parameters of the paper; set a flag to False (or a rate to 0) to switch a part off."""

    multiplicative: bool = True
    gamma_shape: float = 1000.0
    gamma_scale: float = 0.001
    gaussian_process: bool = True
    gp_rate: float = 0.5  # fraction of crops receiving the correlated noise
    gp_sigma: float = 0.005  # metres
    gp_downsample: int = 4  # crop side / noise grid side
    symmetrize: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


def gaussian_process_noise(
    count: int, side: int, rng: np.random.Generator, sigma: float = 0.005, downsample: int = 4
) -> np.ndarray:
    """Smooth noise fields (count, side, side) in metres: coarse Gaussian samples upsampled bicubically."""
    coarse_side = max(1, int(np.ceil(side / downsample)))
    coarse = rng.normal(0.0, sigma, size=(count, coarse_side, coarse_side))
    if coarse_side == side:
        return coarse.astype(np.float32)
    zoom = side / coarse_side
    # grid_mode aligns pixel areas (not centres), so the upsampled field covers the crop exactly.
    fine = ndimage.zoom(coarse, (1.0, zoom, zoom), order=3, mode="grid-mirror", grid_mode=True)
    return fine[:, :side, :side].astype(np.float32)


def augment_crops(
    crops: np.ndarray, rng: np.random.Generator | int, config: AugmentConfig = AugmentConfig()
) -> np.ndarray:
    """Augmented copy of crops (N, H, W) or (N, 1, H, W) float32 metres; `rng` is a Generator or a seed."""
    rng = np.random.default_rng(rng)
    crops = np.asarray(crops, dtype=np.float32)
    if crops.ndim not in (3, 4) or (crops.ndim == 4 and crops.shape[1] != 1):
        raise ValueError(f"crops must be (N, H, W) or (N, 1, H, W), got shape {crops.shape}")
    images = crops.reshape(len(crops), crops.shape[-2], crops.shape[-1]).copy()
    count, height, width = images.shape
    if count == 0:
        return crops.copy()

    if config.multiplicative:
        scale = rng.gamma(config.gamma_shape, config.gamma_scale, size=count).astype(np.float32)
        images *= scale[:, None, None]

    if config.gaussian_process and config.gp_rate > 0:
        chosen = np.flatnonzero(rng.random(count) < config.gp_rate)
        if len(chosen):
            side = max(height, width)
            noise = gaussian_process_noise(len(chosen), side, rng, config.gp_sigma, config.gp_downsample)
            images[chosen] += noise[:, :height, :width]

    if config.symmetrize:
        flip_lr = rng.random(count) < 0.5
        flip_ud = rng.random(count) < 0.5
        images = np.where(flip_lr[:, None, None], images[:, :, ::-1], images)
        images = np.where(flip_ud[:, None, None], images[:, ::-1, :], images)

    return np.ascontiguousarray(images.reshape(crops.shape), dtype=np.float32)
