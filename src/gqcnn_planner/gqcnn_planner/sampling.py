"""Antipodal grasp sampling in a depth image (Dex-Net 2.0 Appendix B, Algorithm 1).

Edges are pixels with a large depth gradient; the gradient direction there is the surface normal projected
into the image (pointing away from the nearer surface, i.e. out of the object). A pair of edge pixels is an
antipodal candidate when the line between them lies inside both contacts' friction cones and the jaw opening
it needs fits the gripper. Candidates are drawn at random, spread out by rejecting near-duplicates, and each
gets gripper depths between the surface under the jaws and the table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage
from scipy.spatial.distance import pdist, squareform

from gqcnn_core.camera import CameraIntrinsics
from gqcnn_core.grasp import Grasp2D, normalize_angle


@dataclass(frozen=True)
class SamplerConfig:
    """Defaults from the paper and gqcnn's Dex-Net 2.0 policy configuration."""

    max_candidates: int = 1000  # M
    friction_coef: float = 0.4  # starting mu, raised by friction_step until enough candidates are found
    friction_step: float = 0.2
    max_friction_coef: float = 1.6
    depth_gradient_threshold: float = 0.0025  # metres per pixel
    gradient_sigma: float = 1.0  # pixels of Gaussian smoothing before differentiating
    max_edge_pixels: int = 600  # random subset of edges: bounds the pairwise test at O(600^2)
    gripper_max_width: float = 0.05  # metres
    gripper_min_width: float = 0.0
    width_margin: float = 0.005  # metres of clearance outside each contact
    min_depth_offset: float = 0.015  # gripper depth below the surface under the jaws, metres
    max_depth_offset: float = 0.05
    table_clearance: float = 0.01  # fingertips stop this far above what lies beside the contacts, metres
    min_jaw_overlap: float = 0.005  # ... and must still reach this far below the nearest surface between the jaws
    depth_samples_per_grasp: int = 3  # gqcnn's value: small objects have few distinct jaw pairs
    min_grasp_distance_px: float = 2.5  # near-duplicate rejection: centre distance ...
    angle_distance_weight: float = 5.0  # ... plus this many px per radian of axis difference
    min_distance_from_boundary_px: int = 48  # grasp centres keep the 96 px crop window inside the image


@dataclass
class GraspCandidates:
    """A batch of planar grasps as parallel arrays (pixels, radians, metres)."""

    centers: np.ndarray  # (N, 2) u, v
    angles: np.ndarray  # (N,)
    depths: np.ndarray  # (N,) gripper depth
    widths: np.ndarray  # (N,) contact distance, metres
    widths_px: np.ndarray = field(default=None)  # (N,)

    def __post_init__(self) -> None:
        self.centers = np.asarray(self.centers, dtype=np.float64).reshape(-1, 2)
        self.angles = normalize_angle(np.asarray(self.angles, dtype=np.float64).reshape(-1))
        self.depths = np.asarray(self.depths, dtype=np.float64).reshape(-1)
        self.widths = np.asarray(self.widths, dtype=np.float64).reshape(-1)
        if self.widths_px is None:
            self.widths_px = np.zeros(len(self.centers))
        self.widths_px = np.asarray(self.widths_px, dtype=np.float64).reshape(-1)

    def __len__(self) -> int:
        return len(self.centers)

    def subset(self, index: np.ndarray) -> GraspCandidates:
        return GraspCandidates(self.centers[index], self.angles[index], self.depths[index], self.widths[index],
                               self.widths_px[index])

    def grasp(self, i: int) -> Grasp2D:
        return Grasp2D(tuple(self.centers[i]), float(self.angles[i]), float(self.depths[i]), float(self.widths[i]))

    def endpoints_px(self) -> np.ndarray:
        """Jaw contact pixels (N, 2, 2)."""
        offset = np.stack([np.cos(self.angles), np.sin(self.angles)], axis=-1) * (self.widths_px[:, None] / 2)
        return np.stack([self.centers - offset, self.centers + offset], axis=1)

    @classmethod
    def concatenate(cls, parts: list[GraspCandidates]) -> GraspCandidates:
        return cls(*(np.concatenate([getattr(p, k) for p in parts]) for k in
                     ("centers", "angles", "depths", "widths", "widths_px")))

    @classmethod
    def empty(cls) -> GraspCandidates:
        return cls(np.zeros((0, 2)), np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0))


def depth_edges(depth: np.ndarray, config: SamplerConfig) -> tuple[np.ndarray, np.ndarray]:
    """Edge pixels (K, 2) as (u, v) and their unit outward normals (K, 2) in the image plane."""
    smooth = ndimage.gaussian_filter(depth, config.gradient_sigma) if config.gradient_sigma > 0 else depth
    grad_v, grad_u = np.gradient(smooth)
    magnitude = np.hypot(grad_u, grad_v)
    v, u = np.nonzero(magnitude > config.depth_gradient_threshold)
    normals = np.stack([grad_u[v, u], grad_v[v, u]], axis=-1) / magnitude[v, u, None]
    return np.stack([u, v], axis=-1).astype(np.float64), normals


def pair_geometry(
    points: np.ndarray, normals: np.ndarray, depth: np.ndarray, camera: CameraIntrinsics, config: SamplerConfig
) -> tuple[np.ndarray, np.ndarray]:
    """For all edge pixel pairs (i < j) that fit the gripper: indices (P, 2) and the friction each needs (P,).

    The friction a contact needs is tan of the angle between its inward normal and the closing direction;
    a pair is antipodal for mu when both contacts need at most mu.
    """
    dist = squareform(pdist(points))
    surface = depth[points[:, 1].astype(int), points[:, 0].astype(int)]
    width_m = dist * np.minimum(surface[:, None], surface[None, :]) / ((camera.fx + camera.fy) / 2)
    fits = (width_m <= config.gripper_max_width - 2 * config.width_margin) & (width_m >= config.gripper_min_width)
    i, j = np.nonzero(np.triu(fits & (dist > 0), k=1))
    direction = (points[j] - points[i]) / dist[i, j, None]
    # Outward normal at i must oppose the closing direction i->j; the one at j must oppose j->i.
    cos_i = np.clip(-(normals[i] * direction).sum(-1), -1.0, 1.0)
    cos_j = np.clip((normals[j] * direction).sum(-1), -1.0, 1.0)
    cos_worst = np.minimum(cos_i, cos_j)
    with np.errstate(divide="ignore", invalid="ignore"):
        needed = np.where(cos_worst > 0, np.sqrt(np.maximum(1.0 - cos_worst**2, 0.0)) / cos_worst, np.inf)
    return np.stack([i, j], axis=-1), needed


def sample_antipodal(
    depth: np.ndarray,
    camera: CameraIntrinsics,
    rng: np.random.Generator,
    num_candidates: int,
    mask: np.ndarray | None = None,
    config: SamplerConfig = SamplerConfig(),
) -> GraspCandidates:
    """Sample up to `num_candidates` antipodal grasps in an inpainted depth image (metres, no holes).

    mask: optional boolean object mask; grasps need at least one contact on the (dilated) mask.
    """
    num_candidates = min(num_candidates, config.max_candidates)
    # Edges only matter near the object: differentiate just the mask's bounding box (plus the jaws' reach).
    v0, u0, v1, u1 = 0, 0, depth.shape[0], depth.shape[1]
    if mask is not None and mask.any():
        rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
        pad = int(4 * config.gradient_sigma) + 4
        v0, v1 = max(rows[0] - pad, 0), min(rows[-1] + pad + 1, depth.shape[0])
        u0, u1 = max(cols[0] - pad, 0), min(cols[-1] + pad + 1, depth.shape[1])
    points, normals = depth_edges(depth[v0:v1, u0:u1], config)
    points += (u0, v0)
    b = config.min_distance_from_boundary_px
    inside = ((points[:, 0] >= b) & (points[:, 0] < camera.width - b)
              & (points[:, 1] >= b) & (points[:, 1] < camera.height - b))
    if mask is not None:
        near_object = ndimage.binary_dilation(mask[v0:v1, u0:u1], iterations=2)
        inside &= near_object[points[:, 1].astype(int) - v0, points[:, 0].astype(int) - u0]
    points, normals = points[inside], normals[inside]
    if len(points) > config.max_edge_pixels:
        keep = rng.choice(len(points), config.max_edge_pixels, replace=False)
        points, normals = points[keep], normals[keep]
    if len(points) < 2 or num_candidates <= 0:
        return GraspCandidates.empty()

    pairs, needed = pair_geometry(points, normals, depth, camera, config)
    friction = config.friction_coef
    while (needed <= friction).sum() < num_candidates and friction + config.friction_step <= config.max_friction_coef:
        friction += config.friction_step  # too few candidates: accept less antipodal pairs, as Algorithm 1 does
    pairs = pairs[needed <= friction + 1e-9]
    if len(pairs) == 0:
        return GraspCandidates.empty()

    pairs = pairs[rng.permutation(len(pairs))]
    p1, p2 = points[pairs[:, 0]], points[pairs[:, 1]]
    centers = (p1 + p2) / 2
    delta = p2 - p1
    angles = np.arctan2(delta[:, 1], delta[:, 0])
    pairs_wanted = -(-num_candidates // max(config.depth_samples_per_grasp, 1))
    chosen = spread_out(centers, angles, pairs_wanted, config)
    p1, p2, centers, angles = p1[chosen], p2[chosen], centers[chosen], angles[chosen]
    candidates = with_depths(depth, camera, p1, p2, centers, angles, rng, config)
    return candidates.subset(np.arange(min(len(candidates), num_candidates)))


def spread_out(centers: np.ndarray, angles: np.ndarray, count: int, config: SamplerConfig) -> np.ndarray:
    """Indices of up to `count` grasps, at most one per cell of a (u, v, angle) grid, in the given order.

    The cell size is the near-duplicate distance (centre pixels, plus angle_distance_weight px per radian),
    so kept grasps differ by about that much: a vectorised stand-in for pairwise distance rejection.
    """
    cell = config.min_grasp_distance_px
    keys = np.column_stack([
        np.floor(centers / cell),
        np.floor((normalize_angle(angles) + np.pi / 2) * config.angle_distance_weight / cell),
    ]).astype(np.int64)
    _, first = np.unique(keys, axis=0, return_index=True)
    return np.sort(first)[:count]


def jaw_depth_range(depth: np.ndarray, camera: CameraIntrinsics, p1: np.ndarray, p2: np.ndarray,
                    config: SamplerConfig) -> tuple[np.ndarray, np.ndarray]:
    """(top, deepest) for jaw pixel pairs: the nearest surface between the jaws, and the deepest the fingertips
    can go, `table_clearance` above what lies just outside the contacts (the table, or another part of the object)."""
    steps = np.linspace(0.0, 1.0, 16)
    line = p1[:, None, :] + (p2 - p1)[:, None, :] * steps[None, :, None]
    rows = np.clip(np.round(line[..., 1]).astype(int), 0, depth.shape[0] - 1)
    cols = np.clip(np.round(line[..., 0]).astype(int), 0, depth.shape[1] - 1)
    top = depth[rows, cols].min(axis=1)
    outward = (p2 - p1) / np.maximum(np.linalg.norm(p2 - p1, axis=1, keepdims=True), 1e-9)
    finger_px = np.maximum(config.width_margin * camera.fx / top, 2.0)[:, None]
    fingers = np.stack([p1 - outward * finger_px, p2 + outward * finger_px], axis=1)
    rows = np.clip(np.round(fingers[..., 1]).astype(int), 0, depth.shape[0] - 1)
    cols = np.clip(np.round(fingers[..., 0]).astype(int), 0, depth.shape[1] - 1)
    return top, depth[rows, cols].min(axis=1) - config.table_clearance


def jaws_reach(depth: np.ndarray, camera: CameraIntrinsics, candidates: GraspCandidates,
               config: SamplerConfig) -> np.ndarray:
    """(N,) bool: the gripper depth lies where `with_depths` puts its grasps, at least `min_jaw_overlap` below the
    surface between the jaws and no deeper than the fingertips can go. For grasps not built from contact pairs
    (CEM's samples): one above the object closes on air, one below the floor is stopped before it."""
    ends = candidates.endpoints_px()
    top, deepest = jaw_depth_range(depth, camera, ends[:, 0], ends[:, 1], config)
    return (candidates.depths >= top + config.min_jaw_overlap) & (candidates.depths <= deepest + 1e-6)


def with_depths(
    depth: np.ndarray, camera: CameraIntrinsics, p1: np.ndarray, p2: np.ndarray, centers: np.ndarray,
    angles: np.ndarray, rng: np.random.Generator, config: SamplerConfig,
) -> GraspCandidates:
    """Gripper depths between the surface under the jaws and the table, `depth_samples_per_grasp` each; pairs
    whose fingertips cannot reach `min_jaw_overlap` below the surface between the jaws are dropped."""
    top, deepest = jaw_depth_range(depth, camera, p1, p2, config)
    n = max(config.depth_samples_per_grasp, 1)
    # Stratified: the n depths of one pair cover the offset range instead of clustering by chance.
    strata = (np.arange(n)[None, :] + rng.uniform(size=(len(top), n))) / n
    offsets = config.min_depth_offset + strata * (config.max_depth_offset - config.min_depth_offset)
    wanted = top[:, None] + offsets
    clamped = wanted >= deepest[:, None]
    distinct = ~clamped | (np.cumsum(clamped, axis=1) == 1)  # strata clamped to the same depth: keep one
    depths = np.minimum(wanted, deepest[:, None]).ravel()
    repeat = np.repeat(np.arange(len(top)), n)
    width_px = np.linalg.norm(p2 - p1, axis=1)[repeat]
    # Width at the gripper depth, as Grasp2D measures it; the jaws must still open around it.
    widths = width_px * depths / ((camera.fx + camera.fy) / 2)
    fits = widths <= config.gripper_max_width - 2 * config.width_margin
    # Where something lies just beside a contact (the table, or another part of the object) the fingertips stop
    # above it; a pair whose fingers would then only graze the top edge between the jaws is no grasp.
    fits &= (deepest >= top + config.min_jaw_overlap)[repeat] & distinct.ravel()
    keep = repeat[fits]
    return GraspCandidates(centers[keep], angles[keep], depths[fits], widths[fits], width_px[fits])
