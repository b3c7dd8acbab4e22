"""Grasp overlays on depth images (ROS-free): the planner's debug image and the CLI's PNG."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from gqcnn_planner.sampling import GraspCandidates


def q_colour(q: float) -> tuple[int, int, int]:
    """Red (q = 0) through yellow to green (q = 1)."""
    q = float(np.clip(q, 0.0, 1.0))
    return int(255 * min(1.0, 2 * (1 - q))), int(255 * min(1.0, 2 * q)), 0


def colourise_depth(depth: np.ndarray) -> np.ndarray:
    """Depth (metres, NaN = missing) -> grey RGB, near = bright, missing = black."""
    valid = np.isfinite(depth)
    out = np.zeros((*depth.shape, 3), dtype=np.uint8)
    if valid.any():
        lo, hi = np.percentile(depth[valid], [1, 99])
        scaled = 1.0 - (np.clip(depth, lo, hi) - lo) / max(hi - lo, 1e-6)
        grey = (40 + 200 * np.nan_to_num(scaled)).astype(np.uint8)
        out[valid] = grey[valid, None]
    return out


def draw_grasps(depth: np.ndarray, candidates: GraspCandidates, q_values: np.ndarray, chosen: int | None = 0,
                scale: int = 1) -> np.ndarray:
    """RGB image (H*scale, W*scale, 3) of the depth with each candidate's jaws coloured by q; the chosen
    grasp drawn thick in blue with its contact points."""
    image = Image.fromarray(colourise_depth(depth))
    if scale != 1:
        image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
    draw = ImageDraw.Draw(image)
    ends = candidates.endpoints_px() * scale
    order = np.argsort(q_values)  # draw the best last, on top
    for i in order:
        if i == chosen:
            continue
        (u1, v1), (u2, v2) = ends[i]
        draw.line([(u1, v1), (u2, v2)], fill=q_colour(q_values[i]), width=max(1, scale))
    if chosen is not None and len(candidates):
        (u1, v1), (u2, v2) = ends[chosen]
        draw.line([(u1, v1), (u2, v2)], fill=(40, 120, 255), width=3 * max(1, scale))
        r = 3 * scale
        for u, v in ((u1, v1), (u2, v2)):
            draw.ellipse([u - r, v - r, u + r, v + r], outline=(40, 120, 255), width=max(1, scale))
    return np.asarray(image)
