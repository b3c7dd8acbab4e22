"""Settings dataclasses whose fields carry help text, ranges and choices: the plain-Python half of the settings idiom.

`setting(default, help, low=, high=, choices=, dynamic=)` describes one field; `make_settings` builds and validates
a settings object from values. The ROS half (`gqcnn_planner.node_settings.declare_settings`) turns the same fields
into declared, typed ROS parameters, so library code (motion planning, the simulator) can define its settings here
without importing rclpy.
"""

from __future__ import annotations

import math
from dataclasses import MISSING, Field, dataclass, field, fields, replace
from typing import Any, TypeVar

T = TypeVar("T")


class SettingsError(ValueError):
    """A parameter value the node cannot run with; the message names the parameter and says why."""


@dataclass(frozen=True)
class _Spec:
    help: str
    low: float | None
    high: float | None
    choices: tuple | None
    dynamic: bool


def setting(default: Any, help: str, *, low: float | None = None, high: float | None = None,
            choices: tuple | None = None, dynamic: bool = False) -> Any:
    """A settings field: default, help text, optional inclusive range [low, high] or choices, dynamic or read-only."""
    spec = _Spec(help, low, high, tuple(choices) if choices else None, dynamic)
    if isinstance(default, list | tuple):
        return field(default=tuple(default), metadata={"setting": spec})
    return field(default=default, metadata={"setting": spec})


def spec_of(f: Field) -> _Spec | None:
    return f.metadata.get("setting")


def setting_fields(cls: type) -> list[Field]:
    """The fields of a settings dataclass that are ROS parameters, in declaration order."""
    return [f for f in fields(cls) if spec_of(f) is not None]


def dynamic_names(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in setting_fields(cls) if spec_of(f).dynamic)


def default_of(f: Field) -> Any:
    return f.default_factory() if f.default is MISSING else f.default


def check_value(f: Field, value: Any) -> None:
    """Raise SettingsError when `value` is outside the field's range or choices (types are rclpy's job)."""
    spec = spec_of(f)
    if spec.choices is not None and value not in spec.choices:
        raise SettingsError(f"{f.name}: '{value}' is not one of {', '.join(map(str, spec.choices))}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value) and (spec.low is not None or spec.high is not None):
            raise SettingsError(f"{f.name}: {value} is not a finite number")
        if (spec.low is not None and value < spec.low) or (spec.high is not None and value > spec.high):
            raise SettingsError(f"{f.name}: {value} is outside [{spec.low}, {spec.high}]")


def from_parameter(f: Field, value: Any) -> Any:
    return tuple(value) if isinstance(default_of(f), tuple) else value


def make_settings(cls: type[T], values: dict[str, Any], base: T | None = None) -> T:
    """Settings from parameter values (ranges, choices and the class's own __post_init__ checks applied)."""
    by_name = {f.name: f for f in setting_fields(cls)}
    for name, value in values.items():
        check_value(by_name[name], value)
    converted = {name: from_parameter(by_name[name], value) for name, value in values.items()}
    try:
        return replace(base, **converted) if base is not None else cls(**converted)
    except (TypeError, ValueError) as err:
        raise SettingsError(str(err)) from None
