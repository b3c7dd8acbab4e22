"""Fixtures of the yumi_bridge node tests."""

from __future__ import annotations

import pytest
from yumi_scenes import NODE_BOX

from yumi_bridge.sim import box_mesh


@pytest.fixture(scope="session")
def box_file(tmp_path_factory) -> str:
    """A mesh file of NODE_BOX for the sim backend's sim_mesh_file."""
    path = tmp_path_factory.mktemp("mesh") / "box.stl"
    box_mesh(NODE_BOX).export(path)
    return str(path)
