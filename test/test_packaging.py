"""Packaging: shipped files are found where installed (a plain colcon build) and in the source tree; every
third-party module a ROS package imports is declared in its package.xml with a rosdep key."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from gqcnn_core import paths

ROOT = Path(__file__).resolve().parents[1]
ROS_PACKAGES = ("gqcnn_core", "gqcnn_planner", "yumi_bridge")
SHARE_CONSTANTS = ("SHIPPED_MODEL", "DEFAULT_GRIPPER_FILE", "DEFAULT_EXTRINSICS_FILE", "PLANNER_PARAMS_FILE",
                   "RVIZ_CONFIG_FILE", "BRIDGE_PARAMS_FILE")

# Import name -> rosdep key. System keys and python3-onnxruntime-pip / python3-trimesh-pip are in ros/rosdistro's
# rosdep/python.yaml; the other -pip keys are defined in the workspace's rosdep.yaml. ROS packages import under
# their own name (rclpy, sensor_msgs, ...), which is their key.
MODULE_KEYS = {
    "numpy": "python3-numpy",
    "scipy": "python3-scipy",
    "yaml": "python3-yaml",
    "cv2": "python3-opencv",
    "sklearn": "python3-sklearn",
    "threadpoolctl": "python3-sklearn",  # a dependency of scikit-learn (pip and Debian's python3-sklearn alike)
    "PIL": "python3-pil",
    "onnxruntime": "python3-onnxruntime-pip",
    "trimesh": "python3-trimesh-pip",
    "trimesh.ray.ray_pyembree": "python3-embreex-pip",  # needs embreex, which trimesh does not pull in
    "mujoco": "python3-mujoco-pip",
    "coacd": "python3-coacd-pip",
    "pyrealsense2": "python3-pyrealsense2-pip",
}
ROS_MODULES = {"rclpy", "rcl_interfaces", "builtin_interfaces", "std_msgs", "sensor_msgs", "geometry_msgs",
               "visualization_msgs", "std_srvs", "tf2_msgs", "tf2_ros", "action_msgs", "ament_index_python",
               "launch", "launch_ros", "dexnet_msgs", *ROS_PACKAGES}


def test_shipped_files_resolve_and_exist():
    for name in SHARE_CONSTANTS:
        assert getattr(paths, name).is_file(), name
    assert paths.share_file("gqcnn_planner", "launch/grasp_planner.launch.py").is_file()
    assert paths.share_file("yumi_bridge", "launch/full_stack.launch.py").is_file()
    assert paths.share_file("yumi_bridge", "config/rapid/DexnetGrasp.mod").is_file()


def test_a_missing_file_is_named_where_it_was_expected():
    missing = paths.share_file("gqcnn_planner", "config/no_such_file.yaml")
    assert not missing.exists() and missing.parts[-2:] == ("config", "no_such_file.yaml")


def test_package_symlinks_point_at_the_workspace_files():
    # Users edit config/ and models/; the packages install them through these links.
    for package in ROS_PACKAGES:
        for link in (ROOT / "src" / package).glob("*/*"):
            if link.is_symlink():
                assert link.resolve().is_relative_to(ROOT / "config") or link.resolve().is_relative_to(ROOT / "models")
                assert link.exists(), f"dangling {link}"


@pytest.mark.skipif(shutil.which("colcon") is None, reason="colcon not installed")
def test_plain_colcon_build_installs_share_files_and_paths_finds_them(tmp_path):
    # No --symlink-install: files are copied, so nothing may depend on the source tree's layout.
    build = subprocess.run(
        ["colcon", "--log-base", str(tmp_path / "log"), "build",
         "--base-paths", *(str(ROOT / "src" / p) for p in ROS_PACKAGES),
         "--build-base", str(tmp_path / "build"), "--install-base", str(tmp_path / "install")],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stdout + build.stderr
    install = tmp_path / "install"
    sites = [str(install / p / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages")
             for p in ROS_PACKAGES]
    # The installed copies first; the environment's path after them for rclpy and the message packages.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([*sites, os.environ.get("PYTHONPATH", "")]),
               AMENT_PREFIX_PATH=os.pathsep.join(str(install / p) for p in ROS_PACKAGES))
    probe = ("import json; from gqcnn_core import paths; "
             "from yumi_bridge.launch_description import full_stack_nodes; "
             f"out = {{n: str(getattr(paths, n)) for n in {SHARE_CONSTANTS!r}}}; "
             "out['__file__'] = paths.__file__; "
             "out['launch'] = str(paths.share_file('yumi_bridge', 'launch/full_stack.launch.py')); "
             "out['params_files'] = sorted({f for s in full_stack_nodes() for f in s.params_files}); "
             "print(json.dumps(out))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert Path(found.pop("__file__")).is_relative_to(install)  # the installed copy, not the source
    params_files = found.pop("params_files")
    assert params_files == sorted([found["PLANNER_PARAMS_FILE"], found["BRIDGE_PARAMS_FILE"]])
    for name, path in found.items():
        path = Path(path)
        assert path.is_relative_to(install) and path.is_file() and not path.is_symlink(), (name, path)


def imported_modules(package_dir: Path) -> set[str]:
    """Every module imported anywhere in the package's Python files and launch files, lazy imports included."""
    names = set()
    for source in [*package_dir.glob("*/*.py"), *package_dir.glob("launch/*.py")]:
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
    return names


def declared_keys(package_dir: Path) -> set[str]:
    root = ET.parse(package_dir / "package.xml").getroot()
    return {e.text.strip() for tag in ("depend", "exec_depend") for e in root.iter(tag)}


@pytest.mark.parametrize("package", ROS_PACKAGES)
def test_package_xml_declares_a_rosdep_key_for_every_import(package):
    package_dir = ROOT / "src" / package
    declared = declared_keys(package_dir)
    missing = []
    for module in sorted(imported_modules(package_dir)):
        top = module.split(".")[0]
        if top in sys.stdlib_module_names or top == package:
            continue
        if module in MODULE_KEYS:  # a submodule with a dependency of its own
            missing += [] if MODULE_KEYS[module] in declared else [f"{module} -> {MODULE_KEYS[module]}"]
        if top in ROS_MODULES:
            missing += [] if top in declared else [f"{module} -> {top}"]
        elif top in MODULE_KEYS:
            missing += [] if MODULE_KEYS[top] in declared else [f"{module} -> {MODULE_KEYS[top]}"]
        else:
            missing.append(f"{module}: unknown third-party module (add it to MODULE_KEYS and package.xml)")
    assert not missing, f"{package}/package.xml lacks: {missing}"


def test_every_pip_key_is_defined_upstream_or_in_the_workspace_rosdep_yaml():
    upstream = {"python3-onnxruntime-pip", "python3-trimesh-pip"}  # checked in ros/rosdistro rosdep/python.yaml
    workspace = set(yaml.safe_load((ROOT / "rosdep.yaml").read_text()))
    used = set().union(*(declared_keys(ROOT / "src" / p) for p in ROS_PACKAGES), *(
        {e.text.strip() for e in ET.parse(ROOT / "src" / p / "package.xml").getroot().iter("test_depend")}
        for p in ROS_PACKAGES))
    pip_keys = {key for key in used if key.endswith("-pip")}
    assert pip_keys <= upstream | workspace, pip_keys - upstream - workspace
