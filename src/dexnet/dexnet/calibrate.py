"""Calibrated q: what a score of 0.7 promises, measured and corrected.

A GQ-CNN's P(success) is calibrated to the training positive rate only on average; on held-out objects it is
typically over- or under-confident. `fit_calibration` fits P = sigmoid(log_odds / temperature + bias) (Platt
scaling on the network's log-odds; temperature scaling when the bias is fixed at 0) by maximum likelihood on
the validation objects. `dexnet export` bakes the two numbers into the ONNX graph (`SuccessProbability`), so
the planner's q is the calibrated one, and records them in the model card with the expected calibration error
(ECE) before and after, on the validation and the test objects. Ranking is unchanged (the map is monotonic).

ECE: the datapoints are binned by q into `bins` equal-width bins; ECE = sum over bins of
(bin size / N) * |success rate in the bin - mean q in the bin|, i.e. how far, on average, the success rate of
grasps scored q is from q. The reliability diagram plots the per-bin success rate against mean q.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

ECE_BINS = 15
METHODS = ("platt", "temperature")
# Bounds of the fit: on (nearly) separable validation data the likelihood keeps growing as the temperature goes
# to 0, so it is bounded to a plausible range instead of producing a step function.
TEMPERATURE_RANGE = (0.1, 10.0)
BIAS_RANGE = (-5.0, 5.0)


def calibrated_probability(log_odds: np.ndarray, temperature: float = 1.0, bias: float = 0.0) -> np.ndarray:
    """sigmoid(log_odds / temperature + bias) as float32, the function the exported graph computes."""
    from scipy.special import expit

    return expit(np.asarray(log_odds, dtype=np.float64) / float(temperature) + float(bias)).astype(np.float32)


def fit_calibration(log_odds: np.ndarray, labels: np.ndarray, method: str = "platt") -> dict[str, float]:
    """Temperature (and bias, for "platt") minimising the log loss of `labels` under the calibrated probability.

    Needs both classes; temperature and bias stay within TEMPERATURE_RANGE and BIAS_RANGE.
    Returns {"method", "temperature", "bias", "log_loss_before", "log_loss_after", "datapoints"}.
    """
    from scipy.optimize import minimize

    if method not in METHODS:
        raise ValueError(f"unknown calibration method '{method}', expected one of {', '.join(METHODS)}")
    z = np.asarray(log_odds, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    if not 0 < y.sum() < len(y):
        raise ValueError("calibration needs both successes and failures among the validation datapoints")
    if not np.isfinite(z).all():
        raise ValueError("calibration needs finite log-odds (the network produced NaN/inf)")
    sign = np.where(y, 1.0, -1.0)

    def log_loss(params: np.ndarray) -> float:
        # params = (log inverse temperature, bias); log(1 + exp(-s * x)) computed stably.
        x = z * np.exp(params[0]) + (params[1] if method == "platt" else 0.0)
        return float(np.mean(np.logaddexp(0.0, -sign * x)))

    bounds = [(-np.log(TEMPERATURE_RANGE[1]), -np.log(TEMPERATURE_RANGE[0])), BIAS_RANGE]
    result = minimize(log_loss, np.zeros(2), method="L-BFGS-B", bounds=bounds)
    inverse_temperature, bias = float(np.exp(result.x[0])), float(result.x[1]) if method == "platt" else 0.0
    return {
        "method": method,
        "temperature": 1.0 / inverse_temperature,
        "bias": bias,
        "log_loss_before": log_loss(np.zeros(2)),
        "log_loss_after": log_loss(np.array([result.x[0], bias])),
        "datapoints": len(y),
    }


def reliability_bins(probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> dict[str, np.ndarray]:
    """Per equal-width q bin: datapoints, mean q and success rate (NaN for empty bins); bin edges."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 0.0, 1.0)
    y = np.asarray(labels, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    counts = np.bincount(index, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_q = np.bincount(index, weights=p, minlength=bins) / counts
        success = np.bincount(index, weights=y, minlength=bins) / counts
    return {"edges": edges, "counts": counts, "mean_q": mean_q, "success_rate": success}


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    """ECE: bin-size-weighted mean |success rate - mean q| over equal-width q bins (0 = perfectly calibrated)."""
    table = reliability_bins(probabilities, labels, bins)
    filled = table["counts"] > 0
    if not filled.any():
        return float("nan")
    gaps = np.abs(table["success_rate"][filled] - table["mean_q"][filled])
    return float(np.sum(table["counts"][filled] * gaps) / np.sum(table["counts"]))


def calibration_summary(probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> dict:
    """ECE plus the reliability table as JSON-ready lists (for metrics.json)."""
    table = reliability_bins(probabilities, labels, bins)

    def listed(values: np.ndarray) -> list:
        return [None if not np.isfinite(v) else round(float(v), 5) for v in values]

    return {
        "ece": expected_calibration_error(probabilities, labels, bins),
        "bins": bins,
        "bin_counts": [int(c) for c in table["counts"]],
        "bin_mean_q": listed(table["mean_q"]),
        "bin_success_rate": listed(table["success_rate"]),
    }


def plot_reliability(
    curves: dict[str, tuple[np.ndarray, np.ndarray]], path: Path, title: str = "reliability", bins: int = ECE_BINS
) -> None:
    """Reliability diagram (success rate against mean q per bin) of one or more {name: (q, labels)} curves,
    with a histogram of q below; the legend gives each curve's ECE."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 6))
    grid = fig.add_gridspec(2, 1, height_ratios=(3, 1))
    ax, hist = fig.add_subplot(grid[0]), fig.add_subplot(grid[1])
    ax.plot([0, 1], [0, 1], "k--", lw=0.8, label="perfectly calibrated")
    for name, (p, y) in curves.items():
        table = reliability_bins(p, y, bins)
        filled = table["counts"] > 0
        ece = expected_calibration_error(p, y, bins)
        ax.plot(table["mean_q"][filled], table["success_rate"][filled], marker="o", ms=4,
                label=f"{name} (ECE {ece:.3f})")
        hist.hist(np.asarray(p), bins=table["edges"], histtype="step", label=name)
    ax.set(xlabel="mean q in bin", ylabel="success rate in bin", title=title, xlim=(0, 1), ylim=(0, 1))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    hist.set(xlabel="q", ylabel="grasps", yscale="log", xlim=(0, 1))
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def calibrate_model(model, dataset_dir: Path, max_datapoints: int = 0, method: str = "platt",
                    progress: bool = False) -> dict:
    """Fit the calibration of a torch GQ-CNN on the dataset's validation objects; ECE before/after on val and test.

    Returns the card's `calibration` entry: method, temperature, bias, fit split and size, log loss and ECE.
    """
    from dexnet.evaluate import score_split
    from dexnet.network import predict_log_odds
    from dexnet.stream import SplitShards

    def log_odds(crops: np.ndarray, depths: np.ndarray) -> np.ndarray:
        return predict_log_odds(model, crops, depths)

    val = score_split(log_odds, dataset_dir, "val", max_datapoints, gallery_size=0, progress=progress)
    try:
        fit = fit_calibration(val.probabilities, val.labels, method)
    except ValueError as err:
        raise ValueError(f"{err}: export with --no-calibrate, or calibrate on a dataset with more val objects") from err
    result = {**fit, "fit_split": "val", "ece_bins": ECE_BINS}
    splits = {"val": val}
    if SplitShards.of(dataset_dir, "test").paths:  # without test objects, report validation only
        splits["test"] = score_split(log_odds, dataset_dir, "test", max_datapoints, gallery_size=0, progress=progress)
    for split, scores in splits.items():
        before = calibrated_probability(scores.probabilities)
        after = calibrated_probability(scores.probabilities, fit["temperature"], fit["bias"])
        result[f"ece_{split}_before"] = expected_calibration_error(before, scores.labels)
        result[f"ece_{split}_after"] = expected_calibration_error(after, scores.labels)
        result[f"{split}_datapoints"] = len(scores.labels)
    return result
