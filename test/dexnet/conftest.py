"""Fixtures of the training tests: a synthetic dataset, a short training run on it and its ONNX export."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from synthetic_runs import dexnet_main as main
from synthetic_runs import write_synthetic_dataset

from dexnet.export import export_run

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def synthetic(tmp_path_factory) -> Path:
    return write_synthetic_dataset(tmp_path_factory.mktemp("dataset"))


@pytest.fixture(scope="session")
def trained_run(synthetic, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("runs") / "run"
    args = ["train", str(synthetic), "--out", str(run), "--steps", "60", "--batch-size", "32", "--eval-every", "20"]
    args += ["--shuffle-buffer", "100", "--threads", "1", "--no-progress", "--seed", "3"]
    assert main(args) == 0
    return run


@pytest.fixture(scope="session")
def exported(trained_run, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("models") / "gqcnn_test.onnx"
    export_run(trained_run, out, threads=1, benchmark_seconds=0.1)
    return out
