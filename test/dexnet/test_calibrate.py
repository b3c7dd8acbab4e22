"""Calibrated q: ECE, the temperature/Platt fit on a synthetic miscalibrated model, per-group evaluation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from dexnet.calibrate import (
    calibrated_probability,
    expected_calibration_error,
    fit_calibration,
    plot_reliability,
    reliability_bins,
)
from dexnet.evaluate import Scores, footprint_warnings, group_curves, group_metrics


def miscalibrated(n: int = 20000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True log-odds z, labels drawn from sigmoid(z), and an overconfident, biased model's log-odds 3 z + 1."""
    rng = np.random.default_rng(seed)
    z = rng.normal(-1.0, 1.5, n)
    labels = rng.random(n) < expit(z)
    return z, labels, 3.0 * z + 1.0


def test_ece_of_known_cases():
    labels = np.array([True, False] * 500)
    assert expected_calibration_error(np.full(1000, 0.9), labels) == pytest.approx(0.4)
    assert expected_calibration_error(np.full(1000, 0.5), labels) == pytest.approx(0.0)
    table = reliability_bins(np.array([0.05, 0.05, 0.95]), np.array([False, True, True]), bins=10)
    assert table["counts"][0] == 2 and table["counts"][9] == 1
    assert table["success_rate"][0] == pytest.approx(0.5) and np.isnan(table["mean_q"][5])


def test_platt_fit_undoes_a_known_miscalibration():
    _, labels, model_log_odds = miscalibrated()
    before = expected_calibration_error(expit(model_log_odds), labels)
    fit = fit_calibration(model_log_odds, labels)
    assert fit["temperature"] == pytest.approx(3.0, rel=0.1) and fit["bias"] == pytest.approx(-1 / 3, abs=0.1)
    after = expected_calibration_error(calibrated_probability(model_log_odds, fit["temperature"], fit["bias"]), labels)
    assert before > 0.08 and after < 0.02 and fit["log_loss_after"] < fit["log_loss_before"]
    # Temperature scaling alone (no bias) still helps, and neither changes the ranking.
    temperature_only = fit_calibration(model_log_odds, labels, method="temperature")
    assert temperature_only["bias"] == 0.0
    q = calibrated_probability(model_log_odds, temperature_only["temperature"])
    assert expected_calibration_error(q, labels) < before
    assert np.all(np.diff(q[np.argsort(model_log_odds)]) >= 0)  # monotonic (float32 may tie)


def test_fit_refuses_one_class_and_stays_bounded_on_separable_data():
    with pytest.raises(ValueError, match="both successes and failures"):
        fit_calibration(np.zeros(10), np.zeros(10, bool))
    separable = fit_calibration(np.array([-2.0, -1.0, 1.0, 2.0]), np.array([False, False, True, True]))
    assert 0.1 <= separable["temperature"] <= 10.0


def test_metrics_and_curves_per_sensor_preset_and_scene_kind(tmp_path):
    z, labels, model_log_odds = miscalibrated(4000)
    sensor = np.arange(4000) % 3
    kind = (np.arange(4000) // 2000).astype(np.int64)
    q = expit(np.where(sensor == 1, z, model_log_odds))  # calibrated on structured_light only
    scores = Scores(q, labels, groups={"sensor_preset": sensor, "scene_kind": kind})
    groups = group_metrics(scores)
    assert set(groups["sensor_preset"]) == {"ideal", "structured_light", "active_stereo"}
    assert set(groups["scene_kind"]) == {"single", "heap"}
    assert groups["sensor_preset"]["structured_light"]["ece"] < 0.05 < groups["sensor_preset"]["ideal"]["ece"]
    assert groups["scene_kind"]["heap"]["datapoints"] == 2000
    curves = group_curves(scores, "test")
    assert next(iter(curves)) == "all test" and "active_stereo" in curves and "heap" in curves
    plot_reliability(curves, tmp_path / "reliability.png")
    assert (tmp_path / "reliability.png").stat().st_size > 1000


def test_evaluate_warns_when_the_datasets_crops_cover_another_footprint():
    model = {"crop": {"window_px": 96}, "camera": {"fx": 525.0}}
    same = {"camera": {"fx": 525.0, "fy": 525.0}, "crop": {"crop_size": 96}}
    assert footprint_warnings(model, same) == []
    assert footprint_warnings(model, {"crop": {"crop_size": 96}}) == []  # v1 manifests: the Dex-Net camera
    wider = {"camera": {"fx": 600.0, "fy": 600.0}, "crop": {"crop_size": 96}}
    assert "another metric footprint" in footprint_warnings(model, wider)[0]
    assert footprint_warnings({"crop": {"window_px": 96}, "camera": None}, wider) == []  # cards without a camera
