"""Shared fixtures. ROS tests run the real rclpy middleware in-process on a private DDS domain."""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Iterator

import pytest

# Keep test traffic on this machine and away from other runs (each pytest process picks its own domain).
os.environ.setdefault("ROS_DOMAIN_ID", str(random.SystemRandom().randint(1, 100)))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")


class RosHarness:
    """An rclpy context with a multi-threaded executor spinning in a background thread."""

    def __init__(self) -> None:
        import rclpy
        from rclpy.executors import MultiThreadedExecutor

        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.executor = MultiThreadedExecutor(num_threads=4, context=self.context)
        self._thread = threading.Thread(target=self.executor.spin, daemon=True)
        self._thread.start()
        self.nodes = []

    def add(self, node):
        self.nodes.append(node)
        self.executor.add_node(node)
        return node

    def wait(self, future, timeout: float = 10.0):
        """Block until an rclpy future completes (the executor thread drives it)."""
        done = threading.Event()
        future.add_done_callback(lambda _: done.set())
        if not done.wait(timeout):
            raise TimeoutError(f"future not done after {timeout} s")
        return future.result()

    def shutdown(self) -> None:
        import rclpy

        self.executor.shutdown(timeout_sec=2.0)
        for node in self.nodes:
            node.destroy_node()
        rclpy.shutdown(context=self.context)
        self._thread.join(timeout=5.0)


@pytest.fixture
def ros() -> Iterator[RosHarness]:
    harness = RosHarness()
    try:
        yield harness
    finally:
        harness.shutdown()
