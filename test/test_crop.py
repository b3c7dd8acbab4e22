import numpy as np
import pytest
from scenes import box_on_table, smooth_bump

from gqcnn_core.camera import CameraIntrinsics
from gqcnn_core.crop import CropSpec, antialias, grasp_aligned_crops

CAMERA = CameraIntrinsics.primesense()


@pytest.mark.parametrize("angle", [0.3, -1.2, np.pi / 2, 2.5])
def test_crop_of_rotated_scene_equals_crop_of_unrotated_scene(angle):
    center = (300.0, 260.0)
    upright = grasp_aligned_crops(smooth_bump(CAMERA, center, 0.0), [center], [0.0])
    rotated = grasp_aligned_crops(smooth_bump(CAMERA, center, angle), [center], [angle])
    np.testing.assert_allclose(rotated, upright, atol=2e-4)


def test_grasp_axis_becomes_horizontal():
    """A box whose short side lies along the grasp axis appears as a vertical band in the crop."""
    depth = box_on_table(CAMERA, size_xy=(0.03, 0.2), yaw=0.7)
    center = CAMERA.project(np.array([0.0, 0.0, 0.65]))
    crop = grasp_aligned_crops(depth, [center], [0.7])[0]
    on_box = crop < 0.675
    spec = CropSpec()
    band_px = 0.03 / CAMERA.pixel_size_at(0.65) / spec.scale
    assert on_box.all(axis=0).sum() == pytest.approx(band_px, abs=2)  # columns fully on the box
    assert on_box[:, 0].sum() == 0 and on_box[:, -1].sum() == 0  # jaws' ends are off the box


def test_crop_samples_the_rotated_window_around_the_grasp_centre():
    """On a linear depth ramp bilinear sampling is exact, so every crop pixel has a known value."""
    v, u = np.indices(CAMERA.shape, dtype=float)
    depth = (0.7 + 1e-4 * u + 2e-4 * v).astype(np.float32)
    center, angle, spec = (200.0, 150.0), 0.5, CropSpec(crop_size=32, out_size=32)
    crop = grasp_aligned_crops(depth, [center], [angle], spec)[0]
    offsets = np.arange(32) - 15.5
    x, y = np.meshgrid(offsets, offsets)
    su = center[0] + np.cos(angle) * x - np.sin(angle) * y
    sv = center[1] + np.sin(angle) * x + np.cos(angle) * y
    np.testing.assert_allclose(crop, 0.7 + 1e-4 * su + 2e-4 * sv, atol=1e-6)
    assert crop[15:17, 15:17].mean() == pytest.approx(0.7 + 1e-4 * 200 + 2e-4 * 150, abs=1e-6)


def test_batch_equals_one_by_one_and_prefiltered_reuse():
    rng = np.random.default_rng(3)
    depth = smooth_bump(CAMERA, (320.0, 240.0), 0.4) + rng.normal(0, 1e-3, CAMERA.shape).astype(np.float32)
    centers = rng.uniform([50, 50], [590, 430], size=(40, 2))
    angles = rng.uniform(-np.pi, np.pi, size=40)
    batch = grasp_aligned_crops(depth, centers, angles)
    pairs = zip(centers, angles, strict=True)
    single = np.concatenate([grasp_aligned_crops(depth, c[None], a[None]) for c, a in pairs])
    np.testing.assert_array_equal(batch, single)
    reuse = grasp_aligned_crops(antialias(depth), centers, angles, prefiltered=True)
    np.testing.assert_array_equal(batch, reuse)
    assert batch.shape == (40, 32, 32) and batch.dtype == np.float32


def test_half_turn_flips_the_crop():
    depth = smooth_bump(CAMERA, (320.0, 240.0), 0.2)
    a = grasp_aligned_crops(depth, [(320.0, 240.0)], [0.2])[0]
    b = grasp_aligned_crops(depth, [(320.0, 240.0)], [0.2 + np.pi])[0]
    np.testing.assert_allclose(b, a[::-1, ::-1], atol=1e-6)


def test_missing_depth_and_empty_batches():
    depth = np.full(CAMERA.shape, 0.7, dtype=np.float32)
    assert grasp_aligned_crops(depth, np.zeros((0, 2)), np.zeros(0)).shape == (0, 32, 32)
    depth[10, 10] = np.nan
    with pytest.raises(ValueError, match="inpaint"):
        grasp_aligned_crops(depth, [(5, 5)], [0.0])
