"""An rclpy ActionClient that may be called from a thread other than the executor's.

rclpy's ActionClient (jazzy as installed here; fixed upstream by ros2/rclpy#1308) sends a goal, cancel or result
request and only then registers the future that waits for the answer. When the executor thread takes the answer in
between, it is dropped ("Ignoring unexpected goal response. There may be more than one action server ...") and the
future never completes: seen in CI as a plan_grasp goal that timed out, and it can strand `pick` the same way. One
lock around sending-and-registering, which answers wait for before they are handled, closes the window.
"""

from __future__ import annotations

import threading
from typing import Any

from rclpy.action import ActionClient


class ThreadSafeActionClient(ActionClient):
    """ActionClient whose requests can be sent from any thread (RosThread, tests, the pick command)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Reentrant: a done-callback of a future completed inside a send (rclpy runs them inline) may send again.
        self._requests = threading.RLock()

    def send_goal_async(self, *args: Any, **kwargs: Any) -> Any:
        with self._requests:
            return super().send_goal_async(*args, **kwargs)

    def _cancel_goal_async(self, goal_handle: Any) -> Any:
        with self._requests:
            return super()._cancel_goal_async(goal_handle)

    def _get_result_async(self, goal_handle: Any) -> Any:
        with self._requests:
            return super()._get_result_async(goal_handle)

    async def execute(self, taken_data: Any) -> None:
        # A barrier, not held across the await: an answer can only be taken once its request has been sent, which
        # happens under the lock, so passing it means the request is registered. (Holding a threading lock across
        # an await could release it on another thread when the executor resumes the task there.)
        with self._requests:
            pass
        await super().execute(taken_data)
