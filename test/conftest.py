"""Shared fixtures. ROS tests run the real rclpy middleware in-process on a private DDS domain."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from gqcnn_planner.ros_thread import RosThread

# Keep test traffic on this machine and away from other runs (each pytest process picks its own domain).
os.environ.setdefault("ROS_DOMAIN_ID", str(random.SystemRandom().randint(1, 100)))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")


@pytest.fixture
def ros() -> Iterator[RosThread]:
    from gqcnn_planner.ros_thread import RosThread

    with RosThread() as harness:
        yield harness
