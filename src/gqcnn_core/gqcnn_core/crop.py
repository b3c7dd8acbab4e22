"""The grasp-aligned crop transform of Dex-Net 2.0, shared by dataset generation and planning.

For each grasp: translate the grasp centre to the crop centre, rotate so the grasp axis is
horizontal, take a `crop_size` window and resize it to `out_size` (96 -> 32 px in Dex-Net 2.0).
All of it is one affine map from output pixels to source pixels, so a batch of grasps is one
vectorised bilinear lookup. The resize is anti-aliased by box-filtering the source once by the
scale factor before sampling (an area average, as an image resize would do).

The dataset generator and the planner both call `grasp_aligned_crops`; CROP_TRANSFORM_VERSION is
recorded in datasets and model cards so a model is never fed crops cut differently from its training data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

CROP_TRANSFORM_VERSION = "dexnet2-affine-v1"


@dataclass(frozen=True)
class CropSpec:
    """Window size in source pixels and output size of the network input, both square."""

    crop_size: int = 96
    out_size: int = 32

    def __post_init__(self) -> None:
        if self.crop_size <= 0 or self.out_size <= 0:
            raise ValueError(f"crop sizes must be positive, got {self.crop_size} -> {self.out_size}")

    @property
    def scale(self) -> float:
        """Source pixels per output pixel."""
        return self.crop_size / self.out_size


def antialias(depth: np.ndarray, spec: CropSpec = CropSpec()) -> np.ndarray:
    """Box-filter a full depth image once for a batch of crops (skip when crops are not downscaled)."""
    size = round(spec.scale)
    if size <= 1:
        return np.asarray(depth, dtype=np.float32)
    return ndimage.uniform_filter(np.asarray(depth, dtype=np.float32), size=size, mode="nearest")


def crop_sample_grid(centers: np.ndarray, angles: np.ndarray, spec: CropSpec = CropSpec()) -> np.ndarray:
    """Source pixel coordinates (2, N, out, out) as (row, column) of every output pixel of every crop.

    Output column j, row i sits at (j - c, i - c) * scale in the crop frame, c = (out - 1) / 2; the crop
    frame's x axis is the grasp axis (cos a, sin a) in the image and its y axis (-sin a, cos a).
    """
    centers = np.asarray(centers, dtype=np.float64).reshape(-1, 2)
    angles = np.asarray(angles, dtype=np.float64).reshape(-1)
    if len(centers) != len(angles):
        raise ValueError(f"{len(centers)} centres but {len(angles)} angles")
    offsets = (np.arange(spec.out_size) - (spec.out_size - 1) / 2.0) * spec.scale
    x, y = np.meshgrid(offsets, offsets)  # x varies along columns, y along rows
    c = np.cos(angles)[:, None, None]
    s = np.sin(angles)[:, None, None]
    u = centers[:, 0, None, None] + c * x - s * y
    v = centers[:, 1, None, None] + s * x + c * y
    return np.stack([v, u])


def grasp_aligned_crops(
    depth: np.ndarray,
    centers: np.ndarray,
    angles: np.ndarray,
    spec: CropSpec = CropSpec(),
    prefiltered: bool = False,
) -> np.ndarray:
    """Crops (N, out, out) float32 of a depth image (H, W, metres, no missing pixels) around grasps.

    centers: (N, 2) pixels (u, v); angles: (N,) radians. Pixels outside the image repeat the border.
    Pass `prefiltered=True` with the output of `antialias` to reuse it across calls on one image.
    """
    depth = np.asarray(depth, dtype=np.float32)
    if depth.ndim != 2:
        raise ValueError(f"depth image must be 2-D, got shape {depth.shape}")
    if not np.isfinite(depth).all():
        raise ValueError("depth image has missing (NaN/inf) pixels: inpaint it before cutting crops")
    source = depth if prefiltered else antialias(depth, spec)
    grid = crop_sample_grid(centers, angles, spec)
    if grid.shape[1] == 0:
        return np.zeros((0, spec.out_size, spec.out_size), dtype=np.float32)
    return ndimage.map_coordinates(source, grid, order=1, mode="nearest").astype(np.float32)
