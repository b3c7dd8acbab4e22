"""Top-down gripper collision checks against the object and the table, and the gripper description."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh
import yaml

from dexnet.collision import axis_parallel_to_table, grasps_collide
from gqcnn_core.gripper import GRIPPER_KEYS, Gripper, load_gripper

GRIPPER = Gripper()  # 5 cm stroke, 4.5 cm fingers
CONFIG = Path(__file__).resolve().parents[2] / "config" / "gripper_yumi.yaml"
X, Y = [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]


def standing_box(x: float, y: float, z: float) -> trimesh.Trimesh:
    """A box resting on the table plane z = 0."""
    mesh = trimesh.creation.box([x, y, z])
    mesh.apply_translation([0.0, 0.0, z / 2])
    return mesh


def test_grasp_high_on_a_tall_box_is_free_but_fingers_into_the_table_collide():
    mesh = standing_box(0.04, 0.04, 0.10)
    centers = [[0, 0, 0.08], [0, 0, 0.003], [0, 0, -0.01], [0, 0, 0.07]]
    collide = grasps_collide(mesh, centers, [X, X, X, Y], GRIPPER)
    assert collide.tolist() == [False, True, True, False]


def test_palm_hits_an_object_taller_than_the_fingers():
    mesh = standing_box(0.04, 0.04, 0.20)
    # 15 cm of box above a grasp at 5 cm: the palm (4.5 cm above the grasp) lands on it
    assert grasps_collide(mesh, [[0, 0, 0.05], [0, 0, 0.17]], [X, X], GRIPPER).tolist() == [True, False]


def test_fingers_hit_an_object_wider_than_the_jaws():
    mesh = standing_box(0.06, 0.04, 0.05)
    assert grasps_collide(mesh, [[0, 0, 0.03], [0, 0, 0.03]], [X, Y], GRIPPER).tolist() == [True, False]


def test_fingers_hit_a_neighbouring_part_of_the_object():
    # a post next to a wall 2.5-3.5 cm away: closing along x a finger comes down on the wall; closing
    # along y the 2 cm thick fingers pass beside it
    post = standing_box(0.02, 0.02, 0.06)
    wall = standing_box(0.01, 0.06, 0.06)
    wall.apply_translation([0.03, 0.0, 0.0])
    mesh = trimesh.util.concatenate([post, wall])
    assert grasps_collide(mesh, [[0, 0, 0.04], [0, 0, 0.04]], [X, Y], GRIPPER).tolist() == [True, False]
    away = standing_box(0.02, 0.02, 0.06)
    assert grasps_collide(away, [[0, 0, 0.04]], [X], GRIPPER).tolist() == [False]


def test_tilted_axis_lowers_a_fingertip_and_vertical_axis_has_no_approach():
    mesh = standing_box(0.03, 0.03, 0.05)
    tilted = np.array([1.0, 0.0, np.tan(np.radians(20))])
    # at 8 mm height a 20 degree tilt puts the outer fingertip edge below the table
    assert grasps_collide(mesh, [[0, 0, 0.008], [0, 0, 0.008]], [X, tilted], GRIPPER).tolist() == [False, True]
    assert grasps_collide(mesh, [[0, 0, 0.04]], [[0, 0, 1.0]], GRIPPER).tolist() == [True]
    assert grasps_collide(mesh, np.zeros((0, 3)), np.zeros((0, 3)), GRIPPER).shape == (0,)


def test_axis_parallel_to_table():
    axes = [X, [1, 0, np.tan(np.radians(4.9))], [1, 0, -np.tan(np.radians(5.1))], [0, 0, 1], [0, 0, 0]]
    assert axis_parallel_to_table(axes).tolist() == [True, True, False, False, False]
    assert axis_parallel_to_table(axes, max_angle_deg=10).tolist() == [True, True, True, False, False]


def test_yumi_config_loads_as_the_default_gripper():
    gripper = load_gripper(CONFIG)
    assert gripper == GRIPPER
    assert gripper.max_width == 0.05 and gripper.min_width == 0.0


def test_gripper_yaml_errors_name_the_problem(tmp_path):
    valid = yaml.safe_load(CONFIG.read_text())
    cases = {
        "missing": ({k: v for k, v in valid.items() if k != "finger_length"}, "missing gripper keys: finger_length"),
        "unknown": ({**valid, "finger_lenght": 0.04}, "unknown gripper keys: finger_lenght"),
        "negative": ({**valid, "finger_width": -0.01}, "finger_width"),
        "text": ({**valid, "max_width": "wide"}, "max_width"),
        "order": ({**valid, "min_width": 0.06}, "min_width"),
        "list": ([1, 2], "mapping"),
    }
    for name, (content, message) in cases.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(content))
        with pytest.raises(ValueError, match=message):
            load_gripper(path)
    (tmp_path / "broken.yaml").write_text("max_width: [0.05\n")
    with pytest.raises(ValueError, match="YAML"):
        load_gripper(tmp_path / "broken.yaml")
    with pytest.raises(FileNotFoundError):
        load_gripper(tmp_path / "absent.yaml")
    assert set(GRIPPER_KEYS) == set(valid)
