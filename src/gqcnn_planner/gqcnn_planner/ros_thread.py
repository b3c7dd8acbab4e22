"""Nodes spinning in a background thread, for programs that call actions from their own thread (the demo,
benchmarks, tests): an rclpy context of their own, a multi-threaded executor, and a blocking wait on futures."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import rclpy
from rclpy.executors import Executor, MultiThreadedExecutor
from rclpy.node import Node


def finish_callbacks(executor: Executor, timeout: float = 5.0) -> None:
    """Wait for the callbacks still running in a MultiThreadedExecutor's thread pool and fetch their exceptions.

    rclpy's Executor.shutdown (jazzy) does not wait for them (it tests `_is_shutdown` right after setting it), so
    nodes destroyed at once made a running callback fail and print "The following exception was never retrieved:
    cannot use Destroyable because destruction was requested" at exit. Call after the spinning has stopped.
    """
    deadline = time.monotonic() + timeout
    for task in list(getattr(executor, "_futures", ())):  # the executor's own list of submitted callbacks
        while not task.done() and time.monotonic() < deadline:
            time.sleep(0.01)
        if task.done():
            task.exception()  # fetched: a failure during shutdown is expected, not news


class GoalRejectedError(RuntimeError):
    """The action server rejected the goal."""


class GoalUnansweredError(TimeoutError):
    """The action server neither accepted nor rejected the goal in time."""


def _cancel_if_accepted(future: Any) -> None:
    handle = future.result() if future.exception() is None else None
    if handle is not None and handle.accepted:
        handle.cancel_goal_async()


class RosThread:
    """An rclpy context with a multi-threaded executor spinning in a daemon thread; use as a context manager."""

    def __init__(self, num_threads: int = 4, args: list[str] | None = None) -> None:
        self.context = rclpy.Context()
        rclpy.init(args=args, context=self.context)  # args None: sys.argv, so --ros-args reach the nodes
        self.executor = MultiThreadedExecutor(num_threads=num_threads, context=self.context)
        self.nodes: list[Node] = []
        self._thread = threading.Thread(target=self.executor.spin, daemon=True)
        self._thread.start()

    def add(self, node: Node) -> Node:
        """Spin `node` (created with context=self.context); it is destroyed on shutdown."""
        self.nodes.append(node)
        self.executor.add_node(node)
        return node

    def remove(self, node: Node) -> None:
        """Stop spinning `node` and destroy it."""
        self.executor.remove_node(node)
        self.nodes.remove(node)
        node.destroy_node()

    def wait(self, future: Any, timeout: float = 10.0) -> Any:
        """Block until an rclpy future completes (the executor thread drives it); TimeoutError otherwise."""
        done = threading.Event()
        future.add_done_callback(lambda _: done.set())
        if not done.wait(timeout):
            raise TimeoutError(f"future not done after {timeout} s")
        return future.result()

    def send_goal(self, client: Any, goal: Any, timeout: float = 60.0, feedback_callback: Any = None,
                  accept_timeout: float = 10.0, resend_unanswered: bool = False) -> Any:
        """Send an action goal, block until it is done and return its result message.

        Give it a `gqcnn_planner.action_client.ThreadSafeActionClient`: rclpy's own ActionClient can drop the
        answer to a goal sent from this (non-executor) thread.

        Raises GoalRejectedError when the server rejects the goal, GoalUnansweredError (a TimeoutError) when it is
        not answered within accept_timeout, TimeoutError when it has no result within timeout. A goal left
        unfinished (timeout, Ctrl-C) is canceled, so nothing keeps running, a robot motion least of all, after the
        caller has given up on it.

        resend_unanswered: send an unanswered goal once more (the first is canceled if it is accepted late). For
        goals without side effects (planning): DDS can lose the answer to a request sent just after discovery, when
        the server has not yet matched the client's response reader (seen once in CI-like runs of `pick`).
        """
        for attempt in range(2 if resend_unanswered else 1):
            sent = client.send_goal_async(goal, feedback_callback=feedback_callback)
            try:
                handle = self.wait(sent, accept_timeout)
                break
            except BaseException as err:
                sent.add_done_callback(_cancel_if_accepted)  # accepted late: cancel it then
                if not isinstance(err, TimeoutError):
                    raise
                if attempt == 0 and resend_unanswered:
                    continue
                raise GoalUnansweredError(f"goal not answered within {accept_timeout} s") from None
        if not handle.accepted:
            # rclpy would answer a result request for it with an empty result, i.e. status 0 (success).
            raise GoalRejectedError("goal rejected by the action server")
        try:
            return self.wait(handle.get_result_async(), timeout).result
        except BaseException:
            with contextlib.suppress(TimeoutError):
                self.wait(handle.cancel_goal_async(), 5.0)
            raise

    def shutdown(self) -> None:
        # Stop spinning and join before the nodes go: a C++ wait still running at exit aborts the process.
        self.executor.shutdown(timeout_sec=2.0)
        self._thread.join(timeout=5.0)
        finish_callbacks(self.executor)
        for node in self.nodes:
            node.destroy_node()
        self.nodes.clear()
        rclpy.try_shutdown(context=self.context)

    def __enter__(self) -> RosThread:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
