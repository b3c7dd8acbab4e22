"""Parallel-jaw gripper geometry used for grasp sampling, contact finding and collision checking.

All lengths are metres. The gripper frame used by `collision.py`: x along the grasp axis (jaw closing
direction), z along the approach (palm towards fingertips), y = z cross x. Each finger is a box of
`finger_width` along x, `finger_thickness` along y and `finger_length` along z; its inner face sits at
half the jaw opening from the grasp centre. The palm is a box of `palm_width` (x) by `palm_thickness` (y)
by `palm_height` (z) just behind the fingers.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from gqcnn_core.config_file import read_yaml_mapping


@dataclass(frozen=True)
class Gripper:
    """A parallel-jaw gripper. Defaults describe the ABB YuMi smart gripper (see config/gripper_yumi.yaml)."""

    name: str = "yumi_smart_gripper"
    max_width: float = 0.05  # largest jaw opening, m
    min_width: float = 0.0  # jaw opening when fully closed, m
    finger_width: float = 0.008  # finger extent along the grasp axis, m
    finger_thickness: float = 0.02  # finger extent across the grasp axis (and across the approach), m
    finger_length: float = 0.045  # finger extent along the approach, fingertip to palm, m
    palm_width: float = 0.09  # palm extent along the grasp axis, m
    palm_thickness: float = 0.05  # palm extent across the grasp axis, m
    palm_height: float = 0.06  # palm extent along the approach, m

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"gripper name must be a non-empty string, got {self.name!r}")
        for field in fields(self):
            if field.name == "name":
                continue
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"gripper '{field.name}' must be a finite number (metres), got {value!r}")
            if value < 0 or (value == 0 and field.name != "min_width"):
                raise ValueError(f"gripper '{field.name}' must be positive (metres), got {value}")
            object.__setattr__(self, field.name, float(value))
        if self.min_width >= self.max_width:
            raise ValueError(f"gripper min_width {self.min_width} must be below max_width {self.max_width}")
        if self.palm_width < self.max_width + 2 * self.finger_width:
            raise ValueError(
                f"gripper palm_width {self.palm_width} must hold both fingers fully open "
                f"(>= max_width + 2 * finger_width = {self.max_width + 2 * self.finger_width})"
            )

    def to_dict(self) -> dict[str, float | str]:
        return asdict(self)


GRIPPER_KEYS = tuple(f.name for f in fields(Gripper))


def load_gripper(path: str | Path) -> Gripper:
    """Read a gripper from a flat YAML mapping with exactly the keys of `Gripper` (lengths in metres).

    Raises FileNotFoundError if the file is missing and ValueError naming the problem for malformed YAML,
    missing keys, unknown keys (most likely typos) or invalid values.
    """
    path = Path(path)
    data = read_yaml_mapping(path, "gripper")
    missing = [key for key in GRIPPER_KEYS if key not in data]
    if missing:
        raise ValueError(f"{path}: missing gripper keys: {', '.join(missing)}")
    unknown = sorted(str(key) for key in data if key not in GRIPPER_KEYS)
    if unknown:
        raise ValueError(f"{path}: unknown gripper keys: {', '.join(unknown)} (expected {', '.join(GRIPPER_KEYS)})")
    try:
        return Gripper(**data)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from err
