"""ruff over the sources: the whole workspace under `make test`, the package's own directory under `colcon test`
(pytest then runs from src/<package>, whose setup.cfg is the config: see its [tool:pytest])."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff not installed")
def test_ruff_finds_nothing(request):
    rootdir = Path(request.config.rootpath).resolve()
    target = rootdir if rootdir.parent == ROOT / "src" else ROOT
    done = subprocess.run(["ruff", "check", "--config", str(ROOT / "pyproject.toml"), str(target)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
