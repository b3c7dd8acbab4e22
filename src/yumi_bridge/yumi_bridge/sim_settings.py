"""Settings of the MuJoCo simulator, the per-scene physical conditions drawn from them, presets, and the sensor.

Presets name whole protocols so benchmarks can take `--preset`:
- `easy`: the conditions the single-object benchmark was first run under: finger friction 0.8, every object
  400 kg/m^3, an ideal depth camera plus 1 mm Gaussian noise.
- `paper`: the conditions the Dex-Net 2.0 labels assume: finger friction drawn per scene from the labels'
  distribution N(0.5, 0.1) clipped to [0.2, 0.9], object density drawn per scene (per object in a heap) from
  U(200, 1200) kg/m^3, and the dataset's structured-light sensor model (gqcnn_core.sensor).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from gqcnn_core.camera import CameraIntrinsics
from gqcnn_core.sensor import SENSOR_PRESETS, apply_sensor
from gqcnn_core.settings import setting  # the settings idiom of every node (gqcnn_planner.node_settings declares them)

# The sensor the single-object benchmark was first run with, beside the dataset's sensor models.
GAUSSIAN_1MM = "gaussian_1mm"
SENSORS = (GAUSSIAN_1MM, *SENSOR_PRESETS)


@dataclass(frozen=True)
class SimSettings:
    """Simulation parameters (ROS parameters of the sim backend carry the same names)."""

    sim_mesh_file: str = setting("", "Object mesh (.obj/.stl/.ply) for the sim backend; empty: a 35x90x50 mm box")
    sim_seed: int = setting(0, "Seed of the object drop and the camera pose")
    sim_table_center: tuple = setting((0.40, 0.0), "Table point the object is dropped around and the camera looks at")
    sim_timestep: float = setting(0.002, "Physics time step, s", low=1e-4, high=0.01)
    sim_finger_friction: float = setting(
        0.8, "Friction coefficient of the finger pads (the mean when drawn)", low=0.0, high=2.0
    )
    sim_finger_friction_std: float = setting(
        0.0,
        "Standard deviation of the finger friction drawn per scene from its seed; 0: fixed sim_finger_friction",
        low=0.0,
        high=1.0,
    )
    sim_finger_friction_range: tuple = setting((0.2, 0.9), "Drawn finger friction is clipped to this range")
    sim_table_friction: float = setting(0.5, "Friction coefficient of the table", low=0.0, high=2.0)
    sim_object_friction: float = setting(0.5, "Friction coefficient of the object", low=0.0, high=2.0)
    sim_object_density: float = setting(
        400.0, "Object density, kg/m^3 (mass follows from the mesh volume)", low=1.0, high=20000.0
    )
    sim_object_density_range: tuple = setting(
        (0.0, 0.0),
        "Object density drawn uniformly from this range per scene (per object in a heap), kg/m^3; "
        "(0, 0): fixed sim_object_density",
    )
    sim_sensor: str = setting(
        GAUSSIAN_1MM,
        f"Depth sensor model applied to the rendered image (sensed_depth): {', '.join(SENSORS)}; gaussian_1mm is "
        "an ideal camera plus 1 mm noise per pixel, the others are gqcnn_core.sensor presets as in the dataset",
        choices=SENSORS,
    )
    sim_gripper_speed: float = setting(0.05, "Jaw opening speed while closing, m/s", low=0.001, high=1.0)
    sim_collision_force: float = setting(
        5.0, "Gripper-object contact force on the way down that counts as a collision, N", low=0.0
    )
    sim_coacd_threshold: float = setting(
        0.05, "CoACD concavity threshold (smaller: more, tighter convex parts)", low=0.01, high=1.0
    )
    sim_coacd_max_parts: int = setting(16, "Upper bound on the number of convex parts", low=1, high=256)
    sim_cache_dir: str = setting("", "Convex decomposition cache; empty: $XDG_CACHE_HOME/gqcnn-ros2/coacd")
    sim_registration_error: tuple = setting(
        (0.0, 0.0),
        "Camera registration error of the extrinsics the robot plans with: standard deviations of translation (m) "
        "and rotation (rad) per axis, drawn per scene from its seed; (0, 0): the exact camera pose",
    )

    def __post_init__(self) -> None:
        error = self.sim_registration_error
        if len(error) != 2 or not all(math.isfinite(v) and v >= 0 for v in error):
            raise ValueError(f"sim_registration_error must be two standard deviations >= 0 (m, rad), got {error}")
        low, high = _pair("sim_finger_friction_range", self.sim_finger_friction_range)
        if not 0 < low <= high or not math.isfinite(self.sim_finger_friction_std) or self.sim_finger_friction_std < 0:
            raise ValueError(
                "sim_finger_friction_range must be 0 < low <= high and sim_finger_friction_std >= 0, got "
                f"{self.sim_finger_friction_range} and {self.sim_finger_friction_std}"
            )
        low, high = _pair("sim_object_density_range", self.sim_object_density_range)
        if not ((low, high) == (0.0, 0.0) or 0 < low <= high):
            raise ValueError(f"sim_object_density_range must be (0, 0) or 0 < low <= high, got {(low, high)}")
        if not self.sim_object_density > 0:
            raise ValueError(f"sim_object_density must be positive, got {self.sim_object_density}")
        if self.sim_sensor not in SENSORS:
            raise ValueError(f"sim_sensor must be one of {', '.join(SENSORS)}, got {self.sim_sensor!r}")


def _pair(name: str, value: Any) -> tuple[float, float]:
    if len(value) != 2 or not all(math.isfinite(v) for v in value):
        raise ValueError(f"{name} must be two finite numbers, got {value}")
    return float(value[0]), float(value[1])


# Preset name -> SimSettings overrides.
PRESETS: dict[str, dict[str, Any]] = {
    "easy": {},
    "paper": {
        "sim_finger_friction": 0.5,
        "sim_finger_friction_std": 0.1,
        "sim_finger_friction_range": (0.2, 0.9),
        "sim_object_density_range": (200.0, 1200.0),
        "sim_sensor": "structured_light",
    },
}


def preset_settings(name: str, **overrides: Any) -> SimSettings:
    """SimSettings of the preset `name` (see the module docstring), with `overrides` (field name -> value) on top.

    Raises ValueError naming the presets for an unknown name, or the bad value."""
    if name not in PRESETS:
        raise ValueError(f"unknown sim preset {name!r}: choose one of {', '.join(PRESETS)}")
    return replace(SimSettings(), **{**PRESETS[name], **overrides})


@dataclass(frozen=True)
class Conditions:
    """The physical conditions of one scene."""

    finger_friction: float
    object_densities: tuple[float, ...]  # kg/m^3, one per object


def draw_conditions(settings: SimSettings, seed: int, n_objects: int = 1) -> Conditions:
    """Finger friction and object densities of the scene `seed`: fixed values, or draws from the seed's own stream
    (independent of the drop and camera draws, so switching a preset keeps the same poses)."""
    rng = np.random.default_rng([seed, 2])
    friction = draw_finger_friction(settings, rng)
    densities = (settings.sim_object_density,) * n_objects
    if tuple(settings.sim_object_density_range) != (0.0, 0.0):
        densities = tuple(float(d) for d in rng.uniform(*settings.sim_object_density_range, size=n_objects))
    return Conditions(friction, densities)


def draw_finger_friction(settings: SimSettings, rng: np.random.Generator) -> float:
    """sim_finger_friction, or a draw from N(sim_finger_friction, sim_finger_friction_std) clipped to
    sim_finger_friction_range when the standard deviation is positive."""
    if settings.sim_finger_friction_std <= 0:
        return settings.sim_finger_friction
    drawn = rng.normal(settings.sim_finger_friction, settings.sim_finger_friction_std)
    return float(np.clip(drawn, *settings.sim_finger_friction_range))


def registration_error(rng: np.random.Generator, translation_sigma: float, rotation_sigma: float) -> np.ndarray:
    """A random rigid transform: Gaussian translation and rotation vector, per-axis standard deviations."""
    error = np.eye(4)
    error[:3, :3] = Rotation.from_rotvec(rng.normal(0.0, rotation_sigma, 3)).as_matrix()
    error[:3, 3] = rng.normal(0.0, translation_sigma, 3)
    return error


def sensed_depth(
    rendered: np.ndarray, camera: CameraIntrinsics, sensor: str, rng: np.random.Generator
) -> np.ndarray:
    """The rendered depth (NaN: no hit) as the sensor gives it: float32 metres, 0 where there is no return (the
    planner's and perception's convention for missing pixels).

    `gaussian_1mm` is a calibrated structured-light camera at 0.7 m reduced to 1 mm of noise per pixel (the
    single-object benchmark's first sensor, kept for comparable results); the others are gqcnn_core.sensor presets
    (shadows beside edges, grazing dropout, depth-dependent noise, quantisation)."""
    if sensor == GAUSSIAN_1MM:
        depth = (np.nan_to_num(rendered, nan=0.0) + rng.normal(0.0, 0.001, rendered.shape)).astype(np.float32)
        depth[~np.isfinite(rendered)] = 0.0
        return depth
    if sensor not in SENSOR_PRESETS:
        raise ValueError(f"unknown sensor {sensor!r}: choose one of {', '.join(SENSORS)}")
    return np.nan_to_num(apply_sensor(rendered, camera, sensor, rng), nan=0.0)
