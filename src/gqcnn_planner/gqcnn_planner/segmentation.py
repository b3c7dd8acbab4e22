"""Table plane fitting and object segmentation in a depth image (the perception node's core)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from gqcnn_core.camera import CameraIntrinsics
from gqcnn_core.depth import missing


@dataclass(frozen=True)
class SegmentationConfig:
    min_object_height: float = 0.005  # metres above the table plane
    max_object_height: float = 0.3
    plane_inlier_distance: float = 0.004  # metres
    ransac_iterations: int = 100
    min_object_pixels: int = 50
    workspace_min: tuple[float, float, float] = (-np.inf, -np.inf, 0.1)  # camera-frame box (x, y, z), metres
    workspace_max: tuple[float, float, float] = (np.inf, np.inf, 2.0)


def fit_table_plane(points: np.ndarray, rng: np.random.Generator, config: SegmentationConfig) -> np.ndarray:
    """RANSAC plane (a, b, c, d) with unit normal pointing towards the camera, from points (N, 3).

    The table is the dominant plane in a tabletop view; a least-squares refit on the inliers refines it.
    """
    if len(points) < 3:
        raise ValueError("too few valid depth pixels to fit a table plane")
    sample = points[rng.choice(len(points), min(len(points), 20000), replace=False)]
    best_plane, best_count = None, -1
    for _ in range(config.ransac_iterations):
        p = sample[rng.choice(len(sample), 3, replace=False)]
        normal = np.cross(p[1] - p[0], p[2] - p[0])
        norm = np.linalg.norm(normal)
        if norm < 1e-12:
            continue
        normal /= norm
        count = int((np.abs((sample - p[0]) @ normal) < config.plane_inlier_distance).sum())
        if count > best_count:
            best_plane, best_count = (normal, p[0]), count
    if best_plane is None:
        raise ValueError("could not fit a table plane (degenerate depth image)")
    normal, origin = best_plane
    inliers = sample[np.abs((sample - origin) @ normal) < config.plane_inlier_distance]
    centroid = inliers.mean(axis=0)
    normal = np.linalg.svd(inliers - centroid, full_matrices=False)[2][-1]
    if normal @ centroid > 0:  # make the normal point towards the camera (origin)
        normal = -normal
    return np.append(normal, -normal @ centroid)


def segment_objects(
    depth: np.ndarray, camera: CameraIntrinsics, rng: np.random.Generator | None = None,
    config: SegmentationConfig = SegmentationConfig(),
) -> tuple[np.ndarray, np.ndarray]:
    """Mask (H, W) of everything between min and max height above the table, and the plane.

    Small speckles (fewer than min_object_pixels connected pixels) are removed.
    """
    rng = rng or np.random.default_rng(0)
    cloud = camera.deproject_image(depth)
    valid = ~missing(depth)
    lo, hi = np.asarray(config.workspace_min), np.asarray(config.workspace_max)
    valid &= np.all((cloud >= lo) & (cloud <= hi), axis=-1)
    plane = fit_table_plane(cloud[valid], rng, config)
    height = np.where(valid, cloud @ plane[:3] + plane[3], -np.inf)
    mask = (height > config.min_object_height) & (height < config.max_object_height)
    labels, count = ndimage.label(mask)
    if count:
        sizes = ndimage.sum(mask, labels, index=np.arange(1, count + 1))
        mask = np.isin(labels, 1 + np.flatnonzero(sizes >= config.min_object_pixels))
    return mask, plane


def label_segments(mask: np.ndarray) -> np.ndarray:
    """Segment labels (int32, 0 = background) from a boolean mask (one label per connected region) or a label
    image (integer, kept as it is). An integer image with a single non-zero value (a 0/255 PNG) is a mask.

    Raises ValueError for negative labels."""
    mask = np.asarray(mask)
    if mask.dtype.kind in "iu":
        if mask.size and mask.min() < 0:
            raise ValueError("segment labels must be >= 0 (0 = background)")
        if len(np.unique(mask[mask != 0])) > 1:
            return mask.astype(np.int32)
    return ndimage.label(mask != 0)[0].astype(np.int32)


def segments_at(labels: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """The segment label at each (u, v) pixel; for a pixel off every segment (the centre of a grasp across a
    concave object) the label of the nearest segment pixel. All zeros when `labels` has no segment."""
    pixels = np.round(np.asarray(pixels, dtype=float).reshape(-1, 2)).astype(int)
    cols = np.clip(pixels[:, 0], 0, labels.shape[1] - 1)
    rows = np.clip(pixels[:, 1], 0, labels.shape[0] - 1)
    found = labels[rows, cols]
    off = found == 0
    if off.any() and labels.any():
        nearest = ndimage.distance_transform_edt(labels == 0, return_distances=False, return_indices=True)
        found[off] = labels[nearest[0][rows[off], cols[off]], nearest[1][rows[off], cols[off]]]
    return found
