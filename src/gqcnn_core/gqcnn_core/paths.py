"""Where the shipped files are (parameters, calibration, gripper, model, launch files): the one place that knows.

Each file belongs to one package and is installed into that package's share directory by its setup.py
(`data_files`), so a plain `colcon build` (no --symlink-install) and `ros2 launch <package> <file>` work:

    gqcnn_core     share/gqcnn_core/config/gripper_yumi.yaml, config/camera_extrinsics.yaml, models/gqcnn.{onnx,json}
    gqcnn_planner  share/gqcnn_planner/config/planner.yaml, config/gqcnn.rviz, launch/grasp_planner.launch.py
    yumi_bridge    share/yumi_bridge/config/yumi_bridge.yaml, config/rapid/, launch/full_stack.launch.py

In the source tree the same relative paths hold under each package directory (src/<package>/config/... are
symlinks to the workspace's top-level config/ and models/, which users edit). A file is looked up with
`ament_index_python` where the package is installed (imported lazily: this module stays plain Python), else in
the source tree, so `pip install -e src/gqcnn_core` without ROS works too.
"""

from __future__ import annotations

import os
from pathlib import Path

# The source tree: only a fallback. In a plain colcon install this file lives under install/.../site-packages and
# WORKSPACE points nowhere useful; with --symlink-install or `pip install -e` it resolves to src/gqcnn_core/.
WORKSPACE = Path(__file__).resolve().parents[3]


def installed_share(package: str) -> Path | None:
    """`package`'s share directory from the ament index, or None (not installed, or ament_index_python missing)."""
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
    except ImportError:
        return None
    try:
        return Path(get_package_share_directory(package))
    except (PackageNotFoundError, ValueError):
        return None


def share_file(package: str, relative: str) -> Path:
    """`relative` (e.g. "config/planner.yaml") in `package`'s installed share directory, else in the source tree.

    The source tree is also used when the installed copy is missing but the source has it (a file added since
    the last build). A path that exists nowhere is returned as installed (or as in the source tree when the
    package is not installed), so the caller's "not found" error names where it was expected.
    """
    share = installed_share(package)
    installed = share / relative if share is not None else None
    # resolve(): a --symlink-install links back to the workspace's config/ and models/; name the file users edit.
    if installed is not None and installed.exists():
        return installed.resolve()
    for source in (WORKSPACE / "src" / package / relative, WORKSPACE / relative):
        if source.exists():
            return source.resolve()
    return installed if installed is not None else WORKSPACE / relative


SHIPPED_MODEL = share_file("gqcnn_core", "models/gqcnn.onnx")
DEFAULT_GRIPPER_FILE = share_file("gqcnn_core", "config/gripper_yumi.yaml")
DEFAULT_EXTRINSICS_FILE = share_file("gqcnn_core", "config/camera_extrinsics.yaml")
PLANNER_PARAMS_FILE = share_file("gqcnn_planner", "config/planner.yaml")
RVIZ_CONFIG_FILE = share_file("gqcnn_planner", "config/gqcnn.rviz")
BRIDGE_PARAMS_FILE = share_file("yumi_bridge", "config/yumi_bridge.yaml")


def default_model_path() -> str:
    """$GQCNN_MODEL if set, else the shipped model."""
    return os.environ.get("GQCNN_MODEL", str(SHIPPED_MODEL))
