"""Depth images as float32 metres with NaN for missing pixels, and their ROS encodings.

Cameras report missing depth as 0 (16UC1) or NaN/0 (32FC1); inside the planner every depth image
is float32 metres with NaN where depth is missing, so no code has to remember which convention a
frame came in.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

MM_ENCODINGS = ("16UC1", "mono16")
M_ENCODINGS = ("32FC1",)
SUPPORTED_ENCODINGS = MM_ENCODINGS + M_ENCODINGS


def decode_depth(
    data: bytes | bytearray | memoryview | np.ndarray,
    encoding: str,
    height: int,
    width: int,
    step: int = 0,
    is_bigendian: bool = False,
) -> np.ndarray:
    """Raw image bytes (as in sensor_msgs/Image) -> float32 metres (height, width), NaN = missing."""
    if encoding not in SUPPORTED_ENCODINGS:
        raise ValueError(f"unsupported depth encoding '{encoding}', expected one of {', '.join(SUPPORTED_ENCODINGS)}")
    if height <= 0 or width <= 0:
        raise ValueError(f"depth image is empty ({width}x{height})")
    dtype = np.dtype(np.uint16 if encoding in MM_ENCODINGS else np.float32)
    dtype = dtype.newbyteorder(">" if is_bigendian else "<")
    row_bytes = width * dtype.itemsize
    step = step or row_bytes
    buffer = np.frombuffer(memoryview(data).cast("B") if not isinstance(data, np.ndarray) else data.view(np.uint8),
                           dtype=np.uint8)
    if step < row_bytes or buffer.size < step * (height - 1) + row_bytes:
        raise ValueError(
            f"depth image data has {buffer.size} bytes, too few for {width}x{height} {encoding} with step {step}"
        )
    rows = np.lib.stride_tricks.as_strided(buffer, shape=(height, row_bytes), strides=(step, 1))
    raw = np.ascontiguousarray(rows).view(dtype).reshape(height, width)
    return to_metres(raw, encoding)


MAX_DEPTH_M = 100.0  # no depth camera measures farther; larger values are corrupt data, not a scene


def check_depth_values(depth: np.ndarray, name: str = "depth image") -> None:
    """Raise ValueError when a depth image (metres, NaN = missing) holds depths no camera measures."""
    valid = depth[np.isfinite(depth)]
    if valid.size and float(valid.max()) > MAX_DEPTH_M:
        raise ValueError(f"{name} has depths up to {float(valid.max()):.3g} m; more than {MAX_DEPTH_M:g} m is not "
                         "a depth camera's (wrong units or corrupt data?)")


def to_metres(raw: np.ndarray, encoding: str) -> np.ndarray:
    """Decoded pixel values -> float32 metres with NaN for missing (0, NaN, inf, negative)."""
    depth = raw.astype(np.float32)
    if encoding in MM_ENCODINGS:
        depth *= 0.001
    depth[~np.isfinite(depth) | (depth <= 0)] = np.nan
    return depth


def encode_depth(depth: np.ndarray, encoding: str = "32FC1") -> tuple[bytes, int]:
    """Float metres (H, W) -> (little-endian bytes, step) in `encoding`; missing becomes NaN or 0 mm."""
    if encoding not in SUPPORTED_ENCODINGS:
        raise ValueError(f"unsupported depth encoding '{encoding}', expected one of {', '.join(SUPPORTED_ENCODINGS)}")
    depth = np.asarray(depth, dtype=np.float32)
    if depth.ndim != 2:
        raise ValueError(f"depth image must be 2-D, got shape {depth.shape}")
    if encoding in MM_ENCODINGS:
        mm = np.nan_to_num(np.round(depth * 1000.0), nan=0.0, posinf=0.0, neginf=0.0)
        out = np.clip(mm, 0, np.iinfo(np.uint16).max).astype("<u2")
    else:
        out = np.where(np.isfinite(depth) & (depth > 0), depth, np.nan).astype("<f4")
    return out.tobytes(), depth.shape[1] * out.itemsize


def as_depth_metres(depth: np.ndarray) -> np.ndarray:
    """Accept (H, W) or (H, W, 1) depth in metres from files or arrays; NaN for missing."""
    depth = np.asarray(depth)
    if depth.ndim == 3 and depth.shape[2] == 1:
        depth = depth[..., 0]
    if depth.ndim != 2:
        raise ValueError(f"depth image must be HxW or HxWx1, got shape {depth.shape}")
    if not np.issubdtype(depth.dtype, np.number):
        raise ValueError(f"depth image must be numeric, got {depth.dtype}")
    return to_metres(depth, "32FC1")


def missing(depth: np.ndarray) -> np.ndarray:
    """Boolean mask of missing depth pixels."""
    return ~np.isfinite(depth) | (depth <= 0)


def inpaint(depth: np.ndarray) -> np.ndarray:
    """Fill missing depth with the nearest valid pixel's depth.

    Dex-Net inpaints before cutting crops because the GQ-CNN never saw holes in training. Nearest
    fill keeps edges sharp (no depth bleeding across object boundaries) and is exact where nothing
    is missing. Raises ValueError when the image holds no valid depth at all.
    """
    holes = missing(depth)
    if not holes.any():
        return depth.astype(np.float32, copy=True)
    if holes.all():
        raise ValueError("depth image has no valid pixels (all NaN or zero)")
    _, (rows, cols) = ndimage.distance_transform_edt(holes, return_indices=True)
    return depth[rows, cols].astype(np.float32)
