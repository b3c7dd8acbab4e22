"""What the execute_grasp node needs from a robot: the `Backend` protocol, and the table of backends.

A backend executes `MotionPlan`s (motion.py) on one robot, real (`RwsBackend`, rws.py: an ABB YuMi over Robot Web
Services) or simulated (`SimBackend`, the MuJoCo simulator). The node knows nothing else about it: it checks and
plans every goal with the backend's gripper and extrinsics, calls `execute`, and maps the outcome to a status.

Contract of a backend class (structural: no base class to inherit):

- Construction: `Backend(settings, config, gripper, logger)`. `settings` is an instance of the class attribute
  `Settings`, a frozen dataclass of `motion.setting()` fields whose names are unique across all backends (prefix
  them: `rws_*`, `sim_*`); the node declares the selected backend's settings as ROS parameters. `config` is the
  `MotionConfig`, `gripper` the one `gqcnn_core.gripper.Gripper` of the node (the same file the planner samples
  with: the backend builds or commands its jaws from it), `logger` anything with `.info(str)` and `.warning(str)`
  (an rclpy or a `logging` logger). Bad settings or an unusable resource: raise ValueError, OSError or
  RuntimeError with a readable message; the node then refuses to start.
- `name`: the value of the node's `backend` parameter that selects it ("rws", "sim").
- `gripper`: the Gripper it was given.
- `extrinsics`: the `CameraExtrinsics` plans are made with (rws: the calibration file; sim: its current scene's
  believed camera pose). Uncalibrated extrinsics make the node refuse goals with NOT_CALIBRATED.
- `execute(plan, on_phase, should_cancel) -> ExecutionOutcome`: run the waypoints in order, calling
  `on_phase(phase)` when a new phase starts. Poll `should_cancel()` often (at least between waypoints, and while
  waiting on the robot); when it turns true, stop as soon as it is safe and return an outcome with cause
  "canceled". A grasp that fails (missed, slipped, collision) is an outcome, not an exception. A robot fault
  (unreachable controller, RAPID error, timeout) raises `RobotError` (the node reports ROBOT_ERROR with its
  message). Called from one goal at a time.
- `close()`: release connections, sessions, processes; idempotent; no exception.

A backend that renders the scene it executes in (the simulator) also implements `SceneSource`: the node then
streams `scene.depth` / `scene.camera` as a camera driver would and offers the `~/sim/new_scene` service.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import numpy as np

from gqcnn_core.camera import CameraIntrinsics
from gqcnn_core.frames import CameraExtrinsics
from gqcnn_core.gripper import Gripper
from yumi_bridge.motion import ExecutionOutcome, MotionConfig, MotionPlan


class RobotError(RuntimeError):
    """The robot (or the simulator) could not execute the plan; the message says why in words."""


class Logger(Protocol):
    def info(self, message: str) -> Any: ...

    def warning(self, message: str) -> Any: ...


@runtime_checkable
class Backend(Protocol):
    """Executes motion plans on one robot; see the module docstring for the full contract."""

    name: str
    gripper: Gripper

    @property
    def extrinsics(self) -> CameraExtrinsics: ...

    def execute(
        self,
        plan: MotionPlan,
        on_phase: Callable[[str], None] | None = None,
        should_cancel: Callable[[], bool] | None = None,
    ) -> ExecutionOutcome: ...

    def close(self) -> None: ...


class RenderedScene(Protocol):
    """What the node publishes of a simulated scene."""

    depth: np.ndarray  # float32 metres (NaN: no return), camera.height x camera.width
    camera: CameraIntrinsics  # its frame_id is the camera frame of the extrinsics
    world_camera: np.ndarray  # 4x4 true pose of the camera optical frame in the world (= YuMi base) frame
    seed: int


@runtime_checkable
class SceneSource(Protocol):
    """A backend that renders its own scene (the simulator)."""

    @property
    def scene(self) -> RenderedScene: ...  # the current, settled scene every goal starts from

    def new_scene(self) -> RenderedScene: ...  # drop the object(s) again with the next seed; the new scene


# name -> "module:class"; imported only when selected or declared, so the rws backend never needs MuJoCo loaded
# before the node asks for the sim's parameters.
BACKENDS = {
    "rws": "yumi_bridge.rws:RwsBackend",
    "sim": "yumi_bridge.sim:SimBackend",
}


def backend_class(name: str) -> type:
    """The class registered under `name`; ValueError naming the choices for an unknown one."""
    if name not in BACKENDS:
        choices = " or ".join(repr(choice) for choice in BACKENDS)
        raise ValueError(f"backend must be {choices}, got {name!r}")
    module, cls = BACKENDS[name].split(":")
    return getattr(importlib.import_module(module), cls)


def create_backend(name: str, settings: Any, config: MotionConfig, gripper: Gripper, logger: Logger) -> Backend:
    """Instantiate the backend `name` with its settings (an instance of its `Settings`)."""
    return backend_class(name)(settings, config, gripper, logger)
