"""Reading the project's YAML configuration files with errors that name the file and the problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def read_yaml_mapping(path: str | Path, what: str) -> dict[str, Any]:
    """The top-level mapping of a YAML file; FileNotFoundError or ValueError naming `what` (e.g. "gripper")."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ValueError(f"{path}: not valid YAML{where}: {problem}") from err  # one line, for CLIs and logs
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of {what} settings, got {type(data).__name__}")
    return data
