"""Online augmentation: paper noise statistics, grasp-preserving symmetries, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from dexnet.augment import AugmentConfig, augment_crops, gaussian_process_noise

ONLY_GAMMA = AugmentConfig(gaussian_process=False, symmetrize=False)
ONLY_GP = AugmentConfig(multiplicative=False, symmetrize=False, gp_rate=1.0)
ONLY_SYMMETRY = AugmentConfig(multiplicative=False, gaussian_process=False)


def asymmetric_crops(count: int = 64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (0.6 + 0.05 * rng.random((count, 32, 32))).astype(np.float32)


def test_same_seed_same_batch_and_input_untouched():
    crops = asymmetric_crops()
    before = crops.copy()
    a = augment_crops(crops, 7)
    b = augment_crops(crops, np.random.default_rng(7))
    c = augment_crops(crops, 8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(crops, before)
    assert a.dtype == np.float32 and a.shape == crops.shape


def test_channel_axis_is_kept():
    crops = asymmetric_crops(5)[:, None]
    out = augment_crops(crops, 0)
    assert out.shape == (5, 1, 32, 32)


def test_multiplicative_noise_is_one_gamma_factor_per_crop():
    crops = np.full((4000, 32, 32), 0.5, dtype=np.float32)
    out = augment_crops(crops, 1, ONLY_GAMMA)
    factors = out / crops
    np.testing.assert_allclose(factors, factors[:, :1, :1] * np.ones_like(factors), rtol=1e-6)
    per_crop = factors[:, 0, 0]
    # Gamma(shape 1000, scale 0.001): mean 1, std 1/sqrt(1000) ~ 0.0316.
    assert abs(per_crop.mean() - 1.0) < 0.003
    assert abs(per_crop.std() - 1 / np.sqrt(1000)) < 0.003


def test_gaussian_process_noise_is_smooth_and_small():
    noise = gaussian_process_noise(500, 32, np.random.default_rng(0), sigma=0.005, downsample=4)
    assert noise.shape == (500, 32, 32)
    assert abs(noise.mean()) < 5e-4
    assert 0.002 < noise.std() < 0.006
    # Upsampled from an 8x8 grid: neighbouring pixels are strongly correlated.
    neighbour = np.corrcoef(noise[:, :, :-1].ravel(), noise[:, :, 1:].ravel())[0, 1]
    assert neighbour > 0.8


def test_gaussian_process_rate_applies_to_that_fraction_of_crops():
    crops = np.full((2000, 32, 32), 0.5, dtype=np.float32)
    out = augment_crops(crops, 3, AugmentConfig(multiplicative=False, symmetrize=False, gp_rate=0.5))
    changed = np.any(out != crops, axis=(1, 2))
    assert 0.45 < changed.mean() < 0.55
    assert np.abs(augment_crops(crops, 3, ONLY_GP) - crops).max() < 0.05


def test_symmetries_are_the_four_grasp_preserving_ones_and_all_occur():
    crops = asymmetric_crops(200)
    out = augment_crops(crops, 5, ONLY_SYMMETRY)
    seen = set()
    for original, augmented in zip(crops, out, strict=True):
        candidates = {
            "identity": original,
            "flip_lr": original[:, ::-1],
            "flip_ud": original[::-1, :],
            "rotate_180": np.rot90(original, 2),
        }
        match = [name for name, image in candidates.items() if np.array_equal(image, augmented)]
        assert len(match) == 1
        seen.add(match[0])
    assert seen == {"identity", "flip_lr", "flip_ud", "rotate_180"}


def test_bad_shape_is_a_clear_error():
    with pytest.raises(ValueError, match="crops must be"):
        augment_crops(np.zeros((2, 3, 32, 32), np.float32), 0)
    assert augment_crops(np.zeros((0, 32, 32), np.float32), 0).shape == (0, 32, 32)
