"""One settings idiom for every node: a frozen dataclass whose fields are the node's ROS parameters.

Each field is written with `setting(default, help, ...)`: the default, the help text (the parameter's description in
`ros2 param describe`), an optional range or list of choices, and whether it is `dynamic` (changeable at run time
with `ros2 param set`) or read-only (fixed once the node has started: topics, files, thread counts).

    @dataclass(frozen=True)
    class CameraSettings:
        frame_id: str = setting("camera_depth_optical_frame", "optical frame of the published depth")
        fps: int = setting(30, "frames per second", low=1, high=90)
        policy: str = setting("ranking", "default policy", choices=("ranking", "cem"), dynamic=True)

        def __post_init__(self) -> None:  # optional cross-field checks: raise ValueError with a readable reason
            ...

    class CameraNode(Node):
        def __init__(self, **kwargs):
            super().__init__("camera", **kwargs)
            self.settings = declare_settings(self, CameraSettings, on_change=self.apply_settings)

    def main(args=None):
        run_node(CameraNode, args=args)

`declare_settings` declares one typed parameter per field (type, description, range, read_only in the
ParameterDescriptor; rclpy then refuses wrong types, out-of-range values and writes to read-only parameters),
validates the values the node starts with, and returns the settings. A bad value at start raises `SettingsError`
naming the parameter; `run_node` logs it as one line and the process exits with code 2 (a launch file shows the
node as died with that line in its log). At run time a `ros2 param set` of a dynamic parameter is validated the same
way (choices, `__post_init__`) and refused with the reason when bad; when good, `on_change` receives the new
settings object (the node swaps it in; code that runs long, like one planning goal, reads `self.settings` once).

Types are strict as everywhere in ROS 2: a float parameter needs a float in YAML (`1.0`, not `1`); lists are
tuples in the dataclass and arrays on the parameter server. Fields whose default is None are not parameters.
"""

from __future__ import annotations

import contextlib
import math
import signal
from collections.abc import Callable
from dataclasses import Field
from typing import Any, TypeVar

import rclpy
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult
from rclpy._rclpy_pybind11 import RCLError
from rclpy.exceptions import ParameterException
from rclpy.executors import Executor, ExternalShutdownException, MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter

from gqcnn_core.settings import (  # noqa: F401  (setting, make_settings, ... are part of this module's API)
    SettingsError,
    check_value,
    default_of,
    dynamic_names,
    from_parameter,
    make_settings,
    setting,
    setting_fields,
    spec_of,
)
from gqcnn_planner.ros_thread import finish_callbacks

T = TypeVar("T")

EXIT_BAD_SETTINGS = 2  # the node's parameters are invalid (the CLI convention: 2 = bad input)
EXIT_START_FAILED = 1  # the node could not start for another reason (no camera, ...)


class NodeStartError(RuntimeError):
    """A node cannot start (e.g. no camera); `run_node` logs the message and exits with EXIT_START_FAILED."""


def _descriptor(f: Field) -> ParameterDescriptor:
    spec = spec_of(f)
    text = spec.help + (f" (one of: {', '.join(map(str, spec.choices))})" if spec.choices else "")
    text += "" if spec.dynamic else " [read-only]"
    descriptor = ParameterDescriptor(description=text, read_only=not spec.dynamic,
                                     type=Parameter.Type.from_parameter_value(_as_parameter(default_of(f))).value)
    if spec.low is not None or spec.high is not None:
        default = default_of(f)
        if isinstance(default, int) and not isinstance(default, bool):
            low = int(spec.low) if spec.low is not None else -(2**63)
            high = int(spec.high) if spec.high is not None else 2**63 - 1
            descriptor.integer_range = [IntegerRange(from_value=low, to_value=high, step=0)]
        else:
            low = float(spec.low) if spec.low is not None else -math.inf
            high = float(spec.high) if spec.high is not None else math.inf
            descriptor.floating_point_range = [FloatingPointRange(from_value=low, to_value=high, step=0.0)]
    return descriptor


def _as_parameter(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def declare_settings(node: Node, cls: type[T], on_change: Callable[[T], None] | None = None) -> T:
    """Declare one ROS parameter per field of `cls` on `node`, validate the start values and return the settings.

    Raises SettingsError on a bad start value. Later `ros2 param set` calls on dynamic fields are validated (and
    refused with a reason when bad); accepted ones reach `on_change(new_settings)` after rclpy has stored them.
    """
    values = {}
    for f in setting_fields(cls):
        try:
            values[f.name] = node.declare_parameter(f.name, _as_parameter(default_of(f)), _descriptor(f)).value
        except ParameterException as err:
            raise SettingsError(f"parameter {f.name}: {err}") from None
    current = make_settings(cls, values)
    state = {"settings": current}
    by_name = {f.name: f for f in setting_fields(cls)}

    def validate(params: list[Parameter]) -> SetParametersResult:
        ours = {p.name: p.value for p in params if p.name in by_name}
        if not ours:
            return SetParametersResult(successful=True)
        try:
            state["pending"] = make_settings(cls, ours, state["settings"])
        except SettingsError as err:
            return SetParametersResult(successful=False, reason=str(err))
        return SetParametersResult(successful=True)

    def apply(params: list[Parameter]) -> None:
        if any(p.name in by_name for p in params) and "pending" in state:
            state["settings"] = state.pop("pending")
            node.get_logger().info("parameters set: " + ", ".join(f"{p.name}={p.value}" for p in params))
            if on_change is not None:
                on_change(state["settings"])

    node.add_on_set_parameters_callback(validate)
    node.add_post_set_parameters_callback(apply)
    return current


def _ignore_further_interrupts() -> None:
    # A Ctrl-C in a terminal, a launch supervisor or CI may each deliver SIGINT to the whole process group: the
    # second must not land in the middle of the clean-up as a KeyboardInterrupt traceback.
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError):  # ValueError: not the main thread (a test): nothing to protect
            signal.signal(sig, signal.SIG_IGN)


def run_node(make_node: Callable[..., Node], args: list[str] | None = None, num_threads: int = 1,
             name: str | None = None) -> int:
    """The whole `main()` of a node: init, construct, spin until Ctrl-C or shutdown, clean up, exit code.

    Exit codes: 0 after a clean shutdown (also on SIGINT/SIGTERM, however often they arrive),
    EXIT_BAD_SETTINGS (2) for a SettingsError while constructing the node, EXIT_START_FAILED (1) for a
    NodeStartError; the reason is logged with the ROS logger under `name` (default: the callable's name).
    Use as `raise SystemExit(run_node(MyNode, args))` or `sys.exit(...)` from a console_scripts main().
    """
    logger = rclpy.logging.get_logger(name or getattr(make_node, "__name__", "node"))
    executor: Executor | None = None
    node: Node | None = None
    code = 0
    try:
        rclpy.init(args=args)
        # The executor exists before the node, so a signal during the node's start never meets a half-built one.
        executor = MultiThreadedExecutor(num_threads=num_threads) if num_threads > 1 else SingleThreadedExecutor()
        node = make_node()
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except RCLError:
        # rclpy's signal handler shuts the context down; an executor already inside its wait then fails with
        # "context is not valid" instead of ExternalShutdownException (a race seen under load): a shutdown as well.
        if rclpy.ok():
            raise
    except SettingsError as err:
        logger.error(f"invalid parameter: {err}")
        code = EXIT_BAD_SETTINGS
    except NodeStartError as err:
        logger.error(str(err))
        code = EXIT_START_FAILED
    finally:
        _ignore_further_interrupts()
        if executor is not None:
            executor.shutdown(timeout_sec=2.0)
            finish_callbacks(executor)
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return code
