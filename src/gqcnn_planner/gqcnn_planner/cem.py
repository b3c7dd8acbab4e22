"""The cross-entropy method policy (Dex-Net 2.0 Algorithm 2) over grasps in the image."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np
from scipy import ndimage
from sklearn.mixture import GaussianMixture
from threadpoolctl import ThreadpoolController

from gqcnn_core.camera import CameraIntrinsics
from gqcnn_planner.sampling import GraspCandidates, SamplerConfig, jaws_reach

if TYPE_CHECKING:
    from gqcnn_planner.policies import PlanContext

DEPTH_FEATURE_SCALE = 1000.0  # depth in mm so all five GMM features are of similar magnitude to pixels


# A mixture over a few hundred grasps is far too small for threaded BLAS: with OpenBLAS's default threads its fits
# cost up to ~15x more CPU (threads spinning against each other on 2 cores; measured in the benchmark workers).
_THREADPOOLS = ThreadpoolController()


def cross_entropy_rounds(context: PlanContext, seeds: GraspCandidates,
                         seed_q: np.ndarray) -> tuple[GraspCandidates, np.ndarray]:
    """Refit a Gaussian mixture over [jaw 1 px, jaw 2 px, depth] to the elite and resample, for the configured
    number of rounds, starting from scored seeds.

    Returns every evaluated grasp (seeds and all rounds), so the best is never worse than the best seed.
    """
    config = context.config
    pool, pool_q = [seeds], [seed_q]
    current, current_q = seeds, seed_q
    near_object = ndimage.binary_dilation(context.mask, iterations=3) if context.mask is not None else None
    for round_index in range(config.cem_rounds):
        context.check_cancel()
        if len(current) < 2:  # a mixture needs two grasps to fit; one seed is its own best
            break
        context.report(f"cem_round_{round_index + 1}", 0.3 + 0.7 * round_index / config.cem_rounds,
                       float(max(q.max() for q in pool_q)))
        start = time.perf_counter()
        n_elite = max(int(np.ceil(config.cem_elite_fraction * len(current))), 2)
        elite = current.subset(np.argsort(-current_q)[:n_elite])
        gmm = GaussianMixture(n_components=min(config.gmm_components, len(elite)), covariance_type="full",
                              reg_covar=1e-2, init_params="k-means++",
                              random_state=int(context.rng.integers(2**31 - 1)))
        with _THREADPOOLS.limit(limits=1, user_api="blas"):
            gmm.fit(grasp_features(elite))
        samples = candidates_from_features(gmm.sample(config.cem_samples)[0], context.camera, config.sampler)
        # The cheap per-grasp tests first; the collision check, the costly one, runs on what they leave.
        if near_object is not None and len(samples):
            c = np.round(samples.centers).astype(int)
            samples = samples.subset(np.flatnonzero(near_object[c[:, 1], c[:, 0]]))
        samples = samples.subset(np.flatnonzero(jaws_reach(context.filled, context.camera, samples, config.sampler)))
        samples = context.collision_free(samples)
        context.times["sampling"] += time.perf_counter() - start
        if len(samples) < 2:
            break
        samples_q = context.evaluate(samples)
        pool.append(samples)
        pool_q.append(samples_q)
        current, current_q = samples, samples_q
    return GraspCandidates.concatenate(pool), np.concatenate(pool_q)


def grasp_features(candidates: GraspCandidates) -> np.ndarray:
    ends = candidates.endpoints_px().reshape(-1, 4)
    return np.column_stack([ends, candidates.depths * DEPTH_FEATURE_SCALE])


def candidates_from_features(features: np.ndarray, camera: CameraIntrinsics,
                             sampler: SamplerConfig) -> GraspCandidates:
    """GMM samples [u1, v1, u2, v2, depth] -> grasps, dropping those outside the image or the gripper."""
    p1, p2, depth = features[:, 0:2], features[:, 2:4], features[:, 4] / DEPTH_FEATURE_SCALE
    delta = p2 - p1
    width_px = np.linalg.norm(delta, axis=1)
    width = width_px * depth / ((camera.fx + camera.fy) / 2)
    centers = (p1 + p2) / 2
    b = sampler.min_distance_from_boundary_px
    ok = ((depth > 0) & (width > 0) & (width <= sampler.gripper_max_width - 2 * sampler.width_margin)
          & (centers[:, 0] >= b) & (centers[:, 0] < camera.width - b)
          & (centers[:, 1] >= b) & (centers[:, 1] < camera.height - b))
    return GraspCandidates(centers[ok], np.arctan2(delta[ok, 1], delta[ok, 0]), depth[ok], width[ok], width_px[ok])
