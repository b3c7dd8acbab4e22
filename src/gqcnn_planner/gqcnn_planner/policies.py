"""Grasping policies on a depth image: GQ-CNN ranking and cross-entropy method, plus two baselines.

`plan` is the one entry point the action server, the CLI and the benchmarks call, so they all run exactly the same
code: it validates the inputs, samples antipodal candidates, drops those the gripper cannot reach (collision.py)
and hands them, with a `PlanContext`, to the policy named in `POLICY_FUNCTIONS`. The model is anything with
`predict(crops, depths) -> q` and a `crop_spec` (gqcnn_core.model.GQCNN in production).

The mask may hold several objects (a boolean mask: one segment per connected region) or be a label image: the
policies plan across all segments, the collision check sees every object in the depth image, and the result names
the segment the chosen grasp is on (`Plan.segment_id`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Protocol

import numpy as np

from gqcnn_core.camera import CameraIntrinsics
from gqcnn_core.crop import CropSpec, antialias, grasp_aligned_crops
from gqcnn_core.depth import missing
from gqcnn_core.grasp import Grasp2D
from gqcnn_core.gripper import Gripper
from gqcnn_planner.cem import cross_entropy_rounds
from gqcnn_planner.collision import gripper_clear, sensed_surface, table_normal
from gqcnn_planner.errors import (  # noqa: F401  (re-exported: the nodes and the CLI import them from here)
    CanceledError,
    InvalidInputError,
    NoImageError,
    NoValidGraspError,
    PlanningError,
)
from gqcnn_planner.inputs import prepare_inputs
from gqcnn_planner.sampling import GraspCandidates, SamplerConfig, sample_antipodal
from gqcnn_planner.segmentation import segments_at


class QualityModel(Protocol):
    crop_spec: CropSpec

    def predict(self, crops: np.ndarray, depths: np.ndarray) -> np.ndarray: ...

    def for_camera(self, camera: CameraIntrinsics) -> QualityModel: ...


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
    segment_id: int = 0  # label of the mask segment the grasp is on (0: planned without a mask)

    @property
    def planning_time(self) -> float:
        return float(sum(self.times.values()))


Progress = Callable[[str, float, float], None]  # (stage, progress in [0, 1], best q so far)


@dataclass
class PlanContext:
    """Everything a policy works with: the prepared images, the segments, the model and the shared bookkeeping."""

    filled: np.ndarray  # inpainted depth, metres
    filtered: np.ndarray  # anti-aliased for the crops
    camera: CameraIntrinsics
    labels: np.ndarray | None  # segment labels (0 = background), None: no mask
    up: np.ndarray  # table normal towards the camera: the approach comes down along its opposite
    model: QualityModel
    rng: np.random.Generator
    config: PolicyConfig
    report: Progress
    should_cancel: Callable[[], bool] | None = None
    holes: np.ndarray | None = None  # pixels the sensor did not measure (inpainted in `filled`)
    times: dict[str, float] = field(default_factory=lambda: {"preprocess": 0.0, "sampling": 0.0, "inference": 0.0})

    @property
    def mask(self) -> np.ndarray | None:
        return None if self.labels is None else self.labels > 0

    def check_cancel(self) -> None:
        if self.should_cancel is not None and self.should_cancel():
            raise CanceledError("planning canceled")

    def collision_free(self, candidates: GraspCandidates) -> GraspCandidates:
        if not self.config.collision_check:
            return candidates
        depth, holes = self._checked_image
        return candidates.subset(np.flatnonzero(gripper_clear(depth, candidates, self.camera, self.config.gripper,
                                                              self.up, holes=holes)))

    @cached_property
    def _checked_image(self) -> tuple[np.ndarray, np.ndarray | None]:
        """The depth and holes the collision check reads, shadows read once per plan (CEM checks every round)."""
        return sensed_surface(self.filled, self.holes)

    def evaluate(self, candidates: GraspCandidates) -> np.ndarray:
        """GQ-CNN success probabilities of candidates (timed as inference)."""
        start = time.perf_counter()
        q = evaluate(self.model, self.filtered, candidates)
        self.times["inference"] += time.perf_counter() - start
        return q


def evaluate(model: QualityModel, filtered: np.ndarray, candidates: GraspCandidates) -> np.ndarray:
    """GQ-CNN success probabilities of candidates, from the pre-filtered (anti-aliased) depth image."""
    if len(candidates) == 0:
        return np.zeros(0, dtype=np.float32)
    crops = grasp_aligned_crops(filtered, candidates.centers, candidates.angles, model.crop_spec, prefiltered=True)
    return np.asarray(model.predict(crops, candidates.depths.astype(np.float32)), dtype=np.float32)


# A policy scores (and may replace) the collision-free candidates: (context, candidates) -> (candidates, q).
Policy = Callable[[PlanContext, GraspCandidates], tuple[GraspCandidates, np.ndarray]]


def ranking(context: PlanContext, candidates: GraspCandidates) -> tuple[GraspCandidates, np.ndarray]:
    """GQ-CNN ranking: score every candidate, the best goes first."""
    context.report("inference", 0.3, 0.0)
    return candidates, context.evaluate(candidates)


def cem(context: PlanContext, candidates: GraspCandidates) -> tuple[GraspCandidates, np.ndarray]:
    """GQ-CNN CEM: the candidates are the seeds of the cross-entropy rounds."""
    candidates, q = ranking(context, candidates)
    return cross_entropy_rounds(context, candidates, q)


def random_choice(context: PlanContext, candidates: GraspCandidates) -> tuple[GraspCandidates, np.ndarray]:
    """Random antipodal baseline: a uniformly drawn candidate goes first."""
    q = np.zeros(len(candidates), dtype=np.float32)
    q[context.rng.integers(len(candidates))] = 1.0
    return candidates, q


def igq(context: PlanContext, candidates: GraspCandidates) -> tuple[GraspCandidates, np.ndarray]:
    """IGQ baseline (paper Sec. VI-C): prefer the grasp whose centre is nearest its object segment's centroid, at
    a fixed depth below the surface at the centre."""
    filled, labels = context.filled, context.labels
    if labels is None:
        near = filled < np.percentile(filled, 50)
        labels = (near if near.any() else np.ones_like(filled, dtype=bool)).astype(np.int32)
    segments = segments_at(labels, candidates.centers)
    distance = np.empty(len(candidates))
    for segment in np.unique(segments):
        rows, cols = np.nonzero(labels == segment)
        on = segments == segment
        distance[on] = np.linalg.norm(candidates.centers[on] - [cols.mean(), rows.mean()], axis=1)
    c = np.round(candidates.centers).astype(int)
    depths = filled[c[:, 1], c[:, 0]].astype(np.float64) + context.config.igq_depth_offset
    focal = (context.camera.fx + context.camera.fy) / 2
    moved = GraspCandidates(candidates.centers, candidates.angles, depths, candidates.widths_px * depths / focal,
                            candidates.widths_px)
    return moved, (1.0 / (1.0 + distance)).astype(np.float32)


POLICY_FUNCTIONS: dict[str, Policy] = {"ranking": ranking, "cem": cem, "random": random_choice, "igq": igq}
POLICIES = tuple(POLICY_FUNCTIONS)
SCORED_BY_GQCNN = ("ranking", "cem")  # the others' pick is scored afterwards, for precision statistics
SAMPLE_OVERSAMPLING = 4  # sampled candidates per requested one, before the collision check


def plan(
    policy: str,
    depth: np.ndarray,
    camera: CameraIntrinsics,
    model: QualityModel,
    rng: np.random.Generator,
    mask: np.ndarray | None = None,
    roi: tuple[int, int, int, int] | None = None,
    *,
    num_candidates: int | None = None,
    config: PolicyConfig = PolicyConfig(),
    progress: Progress | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> Plan:
    """Plan a grasp with one of POLICIES; raises a PlanningError subclass naming the result status.

    mask: boolean (any number of objects) or a label image (0 = background); roi: (x, y, width, height)."""
    if policy not in POLICY_FUNCTIONS:
        raise InvalidInputError(f"unknown policy '{policy}', expected one of {', '.join(POLICIES)}")
    report = progress or (lambda stage, fraction, best: None)
    start = time.perf_counter()
    report("preprocess", 0.0, 0.0)
    filled, labels = prepare_inputs(depth, camera, mask, roi, 2 * config.sampler.min_distance_from_boundary_px + 1)
    model = model.for_camera(camera)  # crop window scaled to this camera's focal length (gqcnn_core.model)
    context = PlanContext(filled, antialias(filled, model.crop_spec), camera, labels, np.zeros(3), model, rng, config,
                          report, should_cancel, missing(np.asarray(depth)))
    context.times["preprocess"] = time.perf_counter() - start
    context.check_cancel()

    count = num_candidates or (config.cem_seeds if policy == "cem" else config.num_candidates)
    start = time.perf_counter()
    report("sampling", 0.1, 0.0)
    # Oversample (up to the sampler's M) because the finger-footprint check below rejects many deep grasps.
    candidates = sample_antipodal(filled, camera, rng, SAMPLE_OVERSAMPLING * count, context.mask, config.sampler)
    context.up = table_normal(filled, camera)
    candidates = context.collision_free(candidates)
    candidates = candidates.subset(np.arange(min(count, len(candidates))))
    context.times["sampling"] = time.perf_counter() - start
    if len(candidates) == 0:
        raise NoValidGraspError("no antipodal grasp candidates found" + (" on the segmented objects"
                                                                      if labels is not None else ""))
    context.check_cancel()

    candidates, q = POLICY_FUNCTIONS[policy](context, candidates)
    order = np.argsort(-q, kind="stable")
    candidates, q = candidates.subset(order), q[order]
    q_chosen = float(q[0]) if policy in SCORED_BY_GQCNN else float(context.evaluate(candidates.subset([0]))[0])
    report("done", 1.0, q_chosen)
    top = np.arange(min(config.top_k, len(candidates)))
    segment = int(segments_at(labels, candidates.centers[:1])[0]) if mask is not None else 0
    return Plan(policy, candidates.grasp(0), q_chosen, candidates.subset(top), q[top], dict(context.times),
                len(candidates), segment)
