"""Where the workspace's shipped files are: config/, models/, launch/. The one place that knows the layout."""

from __future__ import annotations

import os
from pathlib import Path

# Package sources are symlinked into the colcon install (or installed editable), so resolving this file leads
# back to src/gqcnn_core/gqcnn_core/ in the workspace.
WORKSPACE = Path(__file__).resolve().parents[3]
CONFIG_DIR = WORKSPACE / "config"
MODELS_DIR = WORKSPACE / "models"
SHIPPED_MODEL = MODELS_DIR / "gqcnn.onnx"
DEFAULT_GRIPPER_FILE = CONFIG_DIR / "gripper_yumi.yaml"
DEFAULT_EXTRINSICS_FILE = CONFIG_DIR / "camera_extrinsics.yaml"


def default_model_path() -> str:
    """$GQCNN_MODEL if set, else the model shipped in models/."""
    return os.environ.get("GQCNN_MODEL", str(SHIPPED_MODEL))
