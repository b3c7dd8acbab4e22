"""Workspace defaults shared by the planner node, the CLI and the benchmarks."""

from __future__ import annotations

import os
from pathlib import Path

WORKSPACE = Path(__file__).resolve().parents[3]  # package sources are symlinked into the colcon install
SHIPPED_MODEL = WORKSPACE / "models" / "gqcnn.onnx"


def default_model_path() -> str:
    """$GQCNN_MODEL if set, else the model shipped in models/."""
    return os.environ.get("GQCNN_MODEL", str(SHIPPED_MODEL))
