"""Depth sensor models applied to ideal rendered depth: what a real camera makes of a scene.

`apply_sensor(depth, camera, preset, rng)` turns an ideal depth image (float32 metres, NaN where nothing was
hit) into what a sensor of the given class would report, with NaN for missing pixels. The dataset generator
and the simulator both call it, so the network is trained on the images the benchmarks test it on.

Presets (`SENSOR_PRESETS`; the index in this tuple is what datasets record per datapoint):

- `ideal`: the rendered depth unchanged.
- `structured_light` (Primesense / Kinect v1 class): the projector sits `baseline` = 7.5 cm beside the camera
  along +x. A pixel whose 3-D point the projector cannot see (its ray is blocked by a nearer surface: the
  "shadow" on the -x side of every object) gets no depth. Surfaces seen at grazing angles drop out, and so does
  a band of `edge_band_px` beside every depth discontinuity (the pattern-matching window straddles the edge).
  Patches of dark or shiny material return nothing: blobs covering a share of the image drawn per image from
  `blob_fraction`. Axial noise sigma(z) = 0.0012 + 0.0019 (z - 0.4)^2 m (Nguyen, Izadi, Lovell 2012,
  Kinect v1), then 1 mm quantisation. Real images of this class miss 10-30 % of their pixels.
- `active_stereo` (RealSense D4xx class): depth is computed in the left imager and matched in the right one
  `baseline` = 5 cm along +x, so the same occlusion rule leaves the D4xx's invalid band on the -x side of
  near edges. Stereo noise grows with z^2: sigma(z) = subpixel z^2 / (fx b) with subpixel = 0.08 (Intel's
  RMS-error formula), small speckle holes where matching fails, edge bands, material blobs, grazing dropout and
  1 mm quantisation.

The occlusion test needs no ray casting: with the emitter (or second imager) offset along the image x axis,
its rays to the points of one image row stay in that row (rectified geometry). A point at column u and depth z
appears to the emitter at column p = u - fx b / z; the point is hidden when a pixel to its right (closer to the
emitter's side) maps to a smaller p, i.e. a nearer surface lies on the ray. One reversed running minimum per
row finds them all. For a step from depth z_near down to z_far, the shadow is fx b (1/z_near - 1/z_far) pixels
wide on the -x side of the near surface.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from gqcnn_core.camera import CameraIntrinsics

SENSOR_PRESETS = ("ideal", "structured_light", "active_stereo")


@dataclass(frozen=True)
class SensorModel:
    """Parameters of one sensor class (see the module docstring); lengths in metres."""

    name: str
    baseline: float = 0.0  # emitter / second imager offset along +x; 0 = no occlusion shadow
    noise: str = "none"  # "none", "kinect" (Nguyen et al. 2012) or "stereo" (z^2 subpixel model)
    stereo_subpixel: float = 0.08  # disparity RMS error in pixels for the "stereo" noise model
    grazing_start_deg: float = 90.0  # incidence angle where dropout starts (probability 0) ...
    grazing_full_deg: float = 90.0  # ... and where every pixel drops out (probability 1)
    speckle_seed_fraction: float = 0.0  # fraction of pixels that seed a failed-matching hole
    speckle_radius_px: int = 0  # holes grow this many pixels around their seed
    edge_band_px: int = 0  # pixels lost on each side of a depth discontinuity
    edge_jump: float = 0.01  # m: a step between neighbouring pixels larger than this is a discontinuity
    blob_fraction: tuple[float, float] = (0.0, 0.0)  # share of pixels lost in material blobs, U(range) per image
    blob_size_px: int = 16  # typical blob diameter
    quantisation: float = 0.0  # output depth step (0 = continuous)


MODELS = {
    "ideal": SensorModel("ideal"),
    "structured_light": SensorModel("structured_light", baseline=0.075, noise="kinect", grazing_start_deg=70.0,
                                    grazing_full_deg=85.0, edge_band_px=2, blob_fraction=(0.0, 0.2),
                                    quantisation=0.001),
    "active_stereo": SensorModel("active_stereo", baseline=0.05, noise="stereo", grazing_start_deg=75.0,
                                 grazing_full_deg=88.0, speckle_seed_fraction=0.002, speckle_radius_px=2,
                                 edge_band_px=1, blob_fraction=(0.0, 0.1), quantisation=0.001),
}


def sensor_model(preset: str) -> SensorModel:
    if preset not in MODELS:
        raise ValueError(f"unknown sensor preset '{preset}', expected one of {', '.join(SENSOR_PRESETS)}")
    return MODELS[preset]


def kinect_noise_sigma(z: np.ndarray) -> np.ndarray:
    """Axial noise std (m) of a Kinect v1 class sensor at depth z (m), Nguyen et al. 2012."""
    return 0.0012 + 0.0019 * (np.asarray(z) - 0.4) ** 2


def stereo_noise_sigma(z: np.ndarray, fx: float, baseline: float, subpixel: float = 0.08) -> np.ndarray:
    """Depth RMS error (m) of a stereo camera: subpixel disparity error propagated through z = fx b / d."""
    return subpixel * np.asarray(z) ** 2 / (fx * baseline)


def noise_sigma(model: SensorModel, z: np.ndarray, camera: CameraIntrinsics) -> np.ndarray:
    if model.noise == "kinect":
        return kinect_noise_sigma(z)
    if model.noise == "stereo":
        return stereo_noise_sigma(z, camera.fx, model.baseline, model.stereo_subpixel)
    return np.zeros_like(z)


def occluded_from_emitter(depth: np.ndarray, fx: float, baseline: float) -> np.ndarray:
    """(H, W) bool: pixels whose point an emitter `baseline` metres along +x cannot see (module docstring).

    Missing (NaN) pixels neither cast shadows nor are reported as shadowed.
    """
    depth = np.asarray(depth, dtype=np.float64)
    valid = np.isfinite(depth) & (depth > 0)
    columns = np.arange(depth.shape[1], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        emitter_column = np.where(valid, columns - fx * baseline / depth, np.inf)
    # Smallest emitter column among the pixels strictly to the right of each pixel.
    right_min = np.minimum.accumulate(emitter_column[:, ::-1], axis=1)[:, ::-1]
    right_min = np.concatenate([right_min[:, 1:], np.full((depth.shape[0], 1), np.inf)], axis=1)
    return valid & (right_min < emitter_column - 1e-6)


def discontinuity_band(depth: np.ndarray, jump: float, band_px: int) -> np.ndarray:
    """(H, W) bool: pixels within `band_px` of a step larger than `jump` metres between neighbouring pixels."""
    z = np.nan_to_num(np.asarray(depth, dtype=np.float32), nan=0.0)
    edges = np.zeros(z.shape, dtype=bool)
    step_u = np.abs(np.diff(z, axis=1)) > jump
    step_v = np.abs(np.diff(z, axis=0)) > jump
    edges[:, 1:] |= step_u
    edges[:, :-1] |= step_u
    edges[1:] |= step_v
    edges[:-1] |= step_v
    return ndimage.binary_dilation(edges, iterations=band_px - 1) if band_px > 1 else edges


def material_blobs(shape: tuple[int, int], fraction: float, size_px: int, rng: np.random.Generator) -> np.ndarray:
    """(H, W) bool: smooth random blobs about `size_px` across covering about `fraction` of the image."""
    if fraction <= 0:
        return np.zeros(shape, dtype=bool)
    coarse_shape = (shape[0] // size_px + 2, shape[1] // size_px + 2)
    coarse = rng.random(coarse_shape, dtype=np.float32)
    field = ndimage.zoom(coarse, size_px, order=1)[: shape[0], : shape[1]]
    return field > np.quantile(field[::4, ::4], 1.0 - fraction)  # a subsample is enough for the threshold


def incidence_angle(depth: np.ndarray, camera: CameraIntrinsics) -> np.ndarray:
    """(H, W) angle (rad) between each pixel's viewing ray and its surface normal (from the depth gradient).

    NaN where the normal is undefined (missing neighbours).
    """
    z = np.asarray(depth, dtype=np.float32)
    x = ((np.arange(z.shape[1], dtype=np.float32) - camera.cx) / camera.fx)[None, :] * z
    y = ((np.arange(z.shape[0], dtype=np.float32) - camera.cy) / camera.fy)[:, None] * z
    xu, yu, zu = (np.gradient(c, axis=1) for c in (x, y, z))  # tangent along image columns
    xv, yv, zv = (np.gradient(c, axis=0) for c in (x, y, z))  # tangent along image rows
    nx, ny, nz = yu * zv - zu * yv, zu * xv - xu * zv, xu * yv - yu * xv
    with np.errstate(invalid="ignore", divide="ignore"):
        cosine = np.abs(nx * x + ny * y + nz * z) / np.sqrt((nx * nx + ny * ny + nz * nz) * (x * x + y * y + z * z))
    return np.arccos(np.clip(cosine, 0.0, 1.0))


def apply_sensor(
    depth: np.ndarray, camera: CameraIntrinsics, preset: str, rng: np.random.Generator,
) -> np.ndarray:
    """Ideal depth (H, W) float metres, NaN = nothing hit -> depth as `preset` reports it (float32, NaN = missing).

    Order: occlusion shadow, grazing dropout and edge bands on the ideal geometry, material blobs, speckle
    holes, noise, quantisation.
    `rng` drives every random choice, so a seeded stream gives the same image.
    """
    model = sensor_model(preset)
    ideal = np.asarray(depth, dtype=np.float32)
    if ideal.ndim != 2:
        raise ValueError(f"depth image must be 2-D, got shape {ideal.shape}")
    if model.name == "ideal":
        return ideal.copy()
    out = ideal.copy()
    valid = np.isfinite(out) & (out > 0)
    drop = ~valid
    if model.baseline > 0:
        drop |= occluded_from_emitter(out, camera.fx, model.baseline)
    if model.grazing_start_deg < 90.0:
        angle = np.degrees(incidence_angle(out, camera))
        span = max(model.grazing_full_deg - model.grazing_start_deg, 1e-6)
        probability = np.clip((np.nan_to_num(angle, nan=0.0) - model.grazing_start_deg) / span, 0.0, 1.0)
        drop |= rng.random(out.shape, dtype=np.float32) < probability
    if model.edge_band_px > 0:
        drop |= discontinuity_band(out, model.edge_jump, model.edge_band_px)
    if model.blob_fraction[1] > 0:
        drop |= material_blobs(out.shape, float(rng.uniform(*model.blob_fraction)), model.blob_size_px, rng)
    if model.speckle_seed_fraction > 0:
        seeds = rng.random(out.shape, dtype=np.float32) < model.speckle_seed_fraction
        if model.speckle_radius_px > 0:
            seeds = ndimage.binary_dilation(seeds, iterations=model.speckle_radius_px)
        drop |= seeds
    sigma = noise_sigma(model, np.where(valid, out, 0.0), camera)
    out += rng.standard_normal(out.shape, dtype=np.float32) * sigma.astype(np.float32)
    if model.quantisation > 0:
        out = np.round(out / model.quantisation) * model.quantisation
    out[drop | ~(out > 0)] = np.nan
    return out.astype(np.float32)
