"""Grasping policies on a depth image: GQ-CNN ranking and cross-entropy method, plus two baselines.

Every policy has the same signature (see `plan`), so the action server, the CLI and the benchmark all run
exactly the same code. The model is anything with `predict(crops, depths) -> q` and a `crop_spec`
(gqcnn_core.model.GQCNN in production).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np
from scipy import ndimage
from sklearn.mixture import GaussianMixture

from gqcnn_core.camera import CameraIntrinsics
from gqcnn_core.crop import CropSpec, antialias, grasp_aligned_crops
from gqcnn_core.depth import inpaint, missing
from gqcnn_core.grasp import Grasp2D
from gqcnn_core.gripper import Gripper
from gqcnn_planner.sampling import GraspCandidates, SamplerConfig, sample_antipodal
from gqcnn_planner.segmentation import SegmentationConfig, fit_table_plane

POLICIES = ("ranking", "cem", "random", "igq")


class PlanningError(Exception):
    """A planning failure with a status name matching PlanGrasp.Result's constants."""

    status = "MODEL_ERROR"


class InvalidInputError(PlanningError):
    status = "INVALID_INPUT"


class NoValidGraspError(PlanningError):
    status = "NO_VALID_GRASP"


class NoImageError(PlanningError):
    status = "NO_IMAGE"


class CanceledError(PlanningError):
    status = "CANCELED"


class QualityModel(Protocol):
    crop_spec: CropSpec

    def predict(self, crops: np.ndarray, depths: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class PolicyConfig:
    num_candidates: int = 250  # ranking: antipodal candidates evaluated
    top_k: int = 10  # candidates returned with the result
    cem_seeds: int = 250  # gqcnn's Dex-Net 2.0 CEM replication: 250 seeds, 3 rounds of 50, elite 25 %
    cem_samples: int = 50
    cem_rounds: int = 3
    cem_elite_fraction: float = 0.25
    gmm_components: int = 3
    igq_depth_offset: float = 0.015  # metres below the surface at the grasp centre
    gripper: Gripper = field(default_factory=Gripper)  # the collision check's and the sampler's jaw geometry
    collision_check: bool = True  # False: candidates straight from the sampler, as gqcnn's policies took them
    sampler: SamplerConfig = field(default_factory=SamplerConfig)

    def __post_init__(self) -> None:
        # One gripper: the sampler's jaw range always follows it.
        object.__setattr__(self, "sampler", replace(self.sampler, gripper_max_width=self.gripper.max_width,
                                                    gripper_min_width=self.gripper.min_width))


@dataclass
class Plan:
    """The chosen grasp, the evaluated candidates (best first) and where the time went."""

    policy: str
    grasp: Grasp2D
    q_value: float
    candidates: GraspCandidates
    q_values: np.ndarray
    times: dict[str, float]
    num_evaluated: int = 0  # candidates scored (sampled, plus CEM's refits)

    @property
    def planning_time(self) -> float:
        return float(sum(self.times.values()))


Progress = Callable[[str, float, float], None]  # (stage, progress in [0, 1], best q so far)


MAX_IMAGE_PIXELS = 4096 * 4096  # larger frames are refused rather than risking minutes of work


def prepare_inputs(
    depth: np.ndarray, camera: CameraIntrinsics, mask: np.ndarray | None = None,
    roi: tuple[int, int, int, int] | None = None, min_size: int = 97,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Validate and inpaint the depth image; combine mask and ROI (x, y, width, height) into one mask."""
    depth = np.asarray(depth, dtype=np.float32)
    if depth.ndim != 2:
        raise InvalidInputError(f"depth image must be 2-D, got shape {depth.shape}")
    try:
        camera.check_image(depth)
    except ValueError as err:
        raise InvalidInputError(str(err)) from None
    if min(depth.shape) < min_size:
        raise InvalidInputError(f"depth image {depth.shape[1]}x{depth.shape[0]} is too small: grasp crops need at "
                           f"least {min_size}x{min_size} pixels")
    if depth.size > MAX_IMAGE_PIXELS:
        raise InvalidInputError(f"depth image {depth.shape[1]}x{depth.shape[0]} is larger than the supported "
                           f"{MAX_IMAGE_PIXELS} pixels")
    if missing(depth).all():
        raise InvalidInputError("depth image has no valid pixels (all NaN or zero)")
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != depth.shape:
            raise InvalidInputError(f"segmask is {mask.shape[1]}x{mask.shape[0]} but depth is "
                               f"{depth.shape[1]}x{depth.shape[0]}")
    if roi is not None and roi[2] > 0 and roi[3] > 0:
        x, y, w, h = roi
        if x < 0 or y < 0 or x + w > depth.shape[1] or y + h > depth.shape[0]:
            raise InvalidInputError(f"ROI {roi} is outside the {depth.shape[1]}x{depth.shape[0]} image")
        box = np.zeros(depth.shape, dtype=bool)
        box[y:y + h, x:x + w] = True
        mask = box if mask is None else mask & box
    if mask is not None and not mask.any():
        raise InvalidInputError("segmask (with ROI) selects no pixels")
    return inpaint(depth), mask


SAMPLE_OVERSAMPLING = 4  # sampled candidates per requested one, before the collision check


def table_normal(depth: np.ndarray, camera: CameraIntrinsics, max_tilt: float = np.radians(60.0),
                 min_inlier_share: float = 0.3) -> np.ndarray:
    """Unit normal of the table plane in the camera frame, pointing towards the camera: the executor approaches
    along its opposite (straight down, as Dex-Net's labels assume). The optical axis stands in when no plane holds
    `min_inlier_share` of the seen points (no table in view, or an object filling it) or the plane is tilted more
    than `max_tilt` from the optical axis."""
    towards_camera = np.array([0.0, 0.0, -1.0])
    step = max(1, int(np.sqrt(depth.size / 5000)))  # a coarse grid is plenty for one dominant plane
    grid = depth[::step, ::step]
    v, u = np.mgrid[0:depth.shape[0]:step, 0:depth.shape[1]:step]
    valid = ~missing(grid)
    points = camera.deproject_pixels(np.stack([u[valid], v[valid]], axis=-1), grid[valid])
    config = SegmentationConfig(ransac_iterations=50)
    try:
        plane = fit_table_plane(points, np.random.default_rng(0), config)
    except ValueError:
        return towards_camera
    share = np.mean(np.abs(points @ plane[:3] + plane[3]) < config.plane_inlier_distance)
    dominant = share >= min_inlier_share and plane[:3] @ towards_camera >= np.cos(max_tilt)
    return plane[:3] if dominant else towards_camera


def gripper_clear(depth: np.ndarray, candidates: GraspCandidates, camera: CameraIntrinsics, config: PolicyConfig,
                  up: np.ndarray | None = None, margin: float = 0.002) -> np.ndarray:
    """True where the gripper can come down to each grasp without touching anything seen in the depth image.

    The model is that of Dex-Net's labels and of the executor: jaws fully open (the gripper's `max_width`), the
    approach straight down (against `up`, the table normal; default the optical axis) with the jaw axis levelled,
    finger and palm boxes swept up from the grasp. It is deliberately stricter than the labels' check: each
    finger's whole sweep in to its contact is checked at every height, from 2 px outside the contact, and the
    boxes are `margin` wider sideways; what is not in the image counts as blocked.

    The depth image is a height field: whatever lies behind a seen surface is taken as solid, so a point of the
    gripper collides when the pixel it projects to shows a surface nearer than the point. Points are checked on
    grids over both fingers' sweeps at the fingertips, half-way up and at the palm, and over the palm's footprint
    at its underside, middle and top."""
    if len(candidates) == 0:
        return np.zeros(0, dtype=bool)
    up = np.array([0.0, 0.0, -1.0]) if up is None else np.asarray(up, dtype=float)
    focal = (camera.fx + camera.fy) / 2
    tip = candidates.depths
    centre = camera.deproject_pixels(candidates.centers, tip)  # (N, 3), camera frame
    image_axis = np.column_stack([np.cos(candidates.angles), np.sin(candidates.angles), np.zeros(len(tip))])
    axis = image_axis - (image_axis @ up)[:, None] * up  # levelled onto the table, as the executor does
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    across = np.cross(up, axis)
    # From just outside the contact (its edge pixel is a blurred depth step of the object itself) outwards.
    gripper = config.gripper
    inner = candidates.widths / 2 + np.maximum(0.2 * gripper.finger_width, 2.0 * tip / focal)
    outer = np.maximum(gripper.max_width / 2 + gripper.finger_width + margin, inner)
    along = np.linspace(0.0, 1.0, 12)
    finger_y = np.linspace(-1.0, 1.0, 11) * (gripper.finger_thickness / 2 + margin)
    palm_x = np.linspace(-1.0, 1.0, 24)[:, None] * (gripper.palm_width / 2 + margin)
    palm_y = np.linspace(-1.0, 1.0, 14)[None, :] * (gripper.palm_thickness / 2 + margin)
    palm = np.broadcast_arrays(palm_x, palm_y)

    def grid(part: str, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) of the part's checked points, (n, P) each: x along the grasp axis, y across, metres."""
        if part == "palm":
            return tuple(np.broadcast_to(g.ravel(), (len(index), g.size)) for g in palm)
        x = inner[index, None] + along * (outer - inner)[index, None]
        x = np.concatenate([-x, x], axis=1)[:, :, None] + 0 * finger_y  # both fingers
        return x.reshape(len(index), -1), np.broadcast_to(finger_y, x.shape).reshape(len(index), -1)

    fl, ph = gripper.finger_length, gripper.palm_height
    ends = candidates.endpoints_px()
    alive = np.flatnonzero(((ends >= 0) & (ends < np.array([camera.width, camera.height]))).all(axis=(1, 2)))
    # Fingertips first: they reject most candidates, so the later checks run on the few left.
    for part, height in (("finger", 0.0), ("finger", fl), ("palm", fl), ("finger", fl / 2), ("palm", fl + ph / 2),
                         ("palm", fl + ph)):
        if len(alive) == 0:
            break
        x, y = grid(part, alive)
        points = (centre[alive, None, :] + x[..., None] * axis[alive, None, :] + y[..., None] * across[alive, None, :]
                  + height * up)
        pixels = points[..., :2] / points[..., 2:] * (camera.fx, camera.fy) + (camera.cx, camera.cy)
        rows, cols = np.round(pixels[..., 1]).astype(int), np.round(pixels[..., 0]).astype(int)
        seen = (rows >= 0) & (rows < depth.shape[0]) & (cols >= 0) & (cols < depth.shape[1])
        surface = depth[np.clip(rows, 0, depth.shape[0] - 1), np.clip(cols, 0, depth.shape[1] - 1)]
        alive = alive[(seen & (surface > points[..., 2])).all(axis=1)]
    clear = np.zeros(len(candidates), dtype=bool)
    clear[alive] = True
    return clear


def evaluate(model: QualityModel, filtered: np.ndarray, candidates: GraspCandidates) -> np.ndarray:
    """GQ-CNN success probabilities of candidates, from the pre-filtered (anti-aliased) depth image."""
    if len(candidates) == 0:
        return np.zeros(0, dtype=np.float32)
    crops = grasp_aligned_crops(filtered, candidates.centers, candidates.angles, model.crop_spec, prefiltered=True)
    return np.asarray(model.predict(crops, candidates.depths.astype(np.float32)), dtype=np.float32)


def plan(
    policy: str,
    depth: np.ndarray,
    camera: CameraIntrinsics,
    model: QualityModel,
    rng: np.random.Generator,
    mask: np.ndarray | None = None,
    roi: tuple[int, int, int, int] | None = None,
    num_candidates: int | None = None,
    config: PolicyConfig = PolicyConfig(),
    progress: Progress | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> Plan:
    """Plan a grasp with one of POLICIES; raises a PlanningError subclass naming the result status."""
    if policy not in POLICIES:
        raise InvalidInputError(f"unknown policy '{policy}', expected one of {', '.join(POLICIES)}")
    times: dict[str, float] = {}
    report = progress or (lambda stage, fraction, best: None)

    def check_cancel() -> None:
        if should_cancel is not None and should_cancel():
            raise CanceledError("planning canceled")

    start = time.perf_counter()
    report("preprocess", 0.0, 0.0)
    filled, mask = prepare_inputs(depth, camera, mask, roi, 2 * config.sampler.min_distance_from_boundary_px + 1)
    filtered = antialias(filled, model.crop_spec)
    times["preprocess"] = time.perf_counter() - start
    check_cancel()

    count = num_candidates or (config.cem_seeds if policy == "cem" else config.num_candidates)
    start = time.perf_counter()
    report("sampling", 0.1, 0.0)
    # Oversample (up to the sampler's M) because the finger-footprint check below rejects many deep grasps.
    candidates = sample_antipodal(filled, camera, rng, SAMPLE_OVERSAMPLING * count, mask, config.sampler)
    up = table_normal(filled, camera)
    clear = (np.flatnonzero(gripper_clear(filled, candidates, camera, config, up)) if config.collision_check
             else np.arange(len(candidates)))
    candidates = candidates.subset(clear[:count])
    times["sampling"] = time.perf_counter() - start
    if len(candidates) == 0:
        raise NoValidGraspError("no antipodal grasp candidates found" + (" on the segmented object" if mask is not None
                                                                      else ""))
    check_cancel()

    times["inference"] = 0.0
    if policy in ("ranking", "cem"):
        start = time.perf_counter()
        report("inference", 0.3, 0.0)
        q = evaluate(model, filtered, candidates)
        times["inference"] += time.perf_counter() - start
        if policy == "cem":
            candidates, q = cross_entropy_rounds(model, filled, filtered, camera, candidates, q, rng, config, times,
                                                 report, check_cancel, mask, up)
    elif policy == "random":
        q = np.zeros(len(candidates), dtype=np.float32)
        q[rng.integers(len(candidates))] = 1.0  # the uniformly drawn one goes first
    else:  # igq
        q = igq_scores(candidates, filled, mask, config)
        depths = igq_depths(candidates, filled, config)
        candidates = GraspCandidates(candidates.centers, candidates.angles, depths,
                                     candidates.widths_px * depths / ((camera.fx + camera.fy) / 2),
                                     candidates.widths_px)
    order = np.argsort(-q, kind="stable")
    candidates, q = candidates.subset(order), q[order]
    q_chosen = float(q[0])
    if policy in ("random", "igq"):  # report the GQ-CNN's opinion of the baseline's choice, for precision stats
        start = time.perf_counter()
        q_chosen = float(evaluate(model, filtered, candidates.subset(np.array([0])))[0])
        times["inference"] += time.perf_counter() - start
    report("done", 1.0, q_chosen)
    top = np.arange(min(config.top_k, len(candidates)))
    return Plan(policy, candidates.grasp(0), q_chosen, candidates.subset(top), q[top], times, len(candidates))


def cross_entropy_rounds(
    model: QualityModel, filled: np.ndarray, filtered: np.ndarray, camera: CameraIntrinsics,
    seeds: GraspCandidates, seed_q: np.ndarray, rng: np.random.Generator, config: PolicyConfig,
    times: dict[str, float], report: Progress, check_cancel: Callable[[], None], mask: np.ndarray | None,
    up: np.ndarray | None = None,
) -> tuple[GraspCandidates, np.ndarray]:
    """Algorithm 2: refit a Gaussian mixture over [jaw 1 px, jaw 2 px, depth] to the elite and resample.

    Returns every evaluated grasp (seeds and all rounds), so the best is never worse than the best seed.
    """
    pool, pool_q = [seeds], [seed_q]
    current, current_q = seeds, seed_q
    near_object = ndimage.binary_dilation(mask, iterations=3) if mask is not None else None
    for round_index in range(config.cem_rounds):
        check_cancel()
        if len(current) < 2:  # a mixture needs two grasps to fit; one seed is its own best
            break
        stage = f"cem_round_{round_index + 1}"
        report(stage, 0.3 + 0.7 * round_index / config.cem_rounds, float(max(q.max() for q in pool_q)))
        start = time.perf_counter()
        n_elite = max(int(np.ceil(config.cem_elite_fraction * len(current))), 2)
        elite = current.subset(np.argsort(-current_q)[:n_elite])
        features = grasp_features(elite)
        gmm = GaussianMixture(n_components=min(config.gmm_components, len(elite)), covariance_type="full",
                              reg_covar=1e-2, init_params="k-means++",
                              random_state=int(rng.integers(2**31 - 1))).fit(features)
        samples = candidates_from_features(gmm.sample(config.cem_samples)[0], camera, config)
        if config.collision_check:
            samples = samples.subset(np.flatnonzero(gripper_clear(filled, samples, camera, config, up)))
        if near_object is not None and len(samples):
            c = np.round(samples.centers).astype(int)
            samples = samples.subset(np.flatnonzero(near_object[c[:, 1], c[:, 0]]))
        times["sampling"] += time.perf_counter() - start
        if len(samples) < 2:
            break
        start = time.perf_counter()
        samples_q = evaluate(model, filtered, samples)
        times["inference"] += time.perf_counter() - start
        pool.append(samples)
        pool_q.append(samples_q)
        current, current_q = samples, samples_q
    return GraspCandidates.concatenate(pool), np.concatenate(pool_q)


DEPTH_FEATURE_SCALE = 1000.0  # depth in mm so all five GMM features are of similar magnitude to pixels


def grasp_features(candidates: GraspCandidates) -> np.ndarray:
    ends = candidates.endpoints_px().reshape(-1, 4)
    return np.column_stack([ends, candidates.depths * DEPTH_FEATURE_SCALE])


def candidates_from_features(features: np.ndarray, camera: CameraIntrinsics, config: PolicyConfig) -> GraspCandidates:
    """GMM samples [u1, v1, u2, v2, depth] -> grasps, dropping those outside the image or the gripper."""
    p1, p2, depth = features[:, 0:2], features[:, 2:4], features[:, 4] / DEPTH_FEATURE_SCALE
    delta = p2 - p1
    width_px = np.linalg.norm(delta, axis=1)
    width = width_px * depth / ((camera.fx + camera.fy) / 2)
    centers = (p1 + p2) / 2
    b = config.sampler.min_distance_from_boundary_px
    ok = ((depth > 0) & (width > 0) & (width <= config.sampler.gripper_max_width - 2 * config.sampler.width_margin)
          & (centers[:, 0] >= b) & (centers[:, 0] < camera.width - b)
          & (centers[:, 1] >= b) & (centers[:, 1] < camera.height - b))
    return GraspCandidates(centers[ok], np.arctan2(delta[ok, 1], delta[ok, 0]), depth[ok], width[ok], width_px[ok])


def igq_scores(candidates: GraspCandidates, depth: np.ndarray, mask: np.ndarray | None,
               config: PolicyConfig) -> np.ndarray:
    """IGQ baseline (paper Sec. VI-C): prefer the grasp whose centre is nearest the object mask's centroid."""
    if mask is None:
        near = depth < np.percentile(depth, 50)
        mask = near if near.any() else np.ones_like(depth, dtype=bool)
    rows, cols = np.nonzero(mask)
    centroid = np.array([cols.mean(), rows.mean()])
    distance = np.linalg.norm(candidates.centers - centroid, axis=1)
    return (1.0 / (1.0 + distance)).astype(np.float32)


def igq_depths(candidates: GraspCandidates, depth: np.ndarray, config: PolicyConfig) -> np.ndarray:
    """IGQ gripper depth: the depth at the grasp centre plus a fixed offset."""
    c = np.round(candidates.centers).astype(int)
    return depth[c[:, 1], c[:, 0]].astype(np.float64) + config.igq_depth_offset
