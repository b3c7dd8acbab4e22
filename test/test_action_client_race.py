"""Goals sent from a thread other than the executor's complete even when the answer outruns the request's bookkeeping
(ros2/rclpy#1123: rclpy's ActionClient dropped such answers, and the goal's future never completed)."""

import time

import pytest
from rclpy.action import ActionServer
from rclpy.node import Node
from rclpy.task import Future
from ros_waits import DISCOVERY_TIMEOUT

from dexnet_msgs.action import PlanGrasp
from gqcnn_planner.action_client import ThreadSafeActionClient
from gqcnn_planner.ros_thread import GoalUnansweredError


class AnswerFirst:
    """The client's rcl handle, pausing after sending each request, so the server's answer is taken before rclpy has
    registered the request: the window of the race, held open."""

    def __init__(self, handle) -> None:
        self._handle = handle

    def __getattr__(self, name):
        return getattr(self._handle, name)

    def __enter__(self):
        return self._handle.__enter__()

    def __exit__(self, *exc):
        return self._handle.__exit__(*exc)

    def _late(self, sequence: int) -> int:
        time.sleep(0.5)
        return sequence

    def send_goal_request(self, request) -> int:
        return self._late(self._handle.send_goal_request(request))

    def send_result_request(self, request) -> int:
        return self._late(self._handle.send_result_request(request))


def test_goals_sent_from_another_thread_complete_when_the_answer_comes_first(ros):
    def execute(goal_handle):
        goal_handle.succeed()
        return PlanGrasp.Result(status=PlanGrasp.Result.SUCCESS, message="done")

    server_node = ros.add(Node("race_server", context=ros.context))
    ActionServer(server_node, PlanGrasp, "plan_grasp", execute)
    client_node = ros.add(Node("race_client", context=ros.context))
    client = ThreadSafeActionClient(client_node, PlanGrasp, "plan_grasp")
    assert client.wait_for_server(timeout_sec=DISCOVERY_TIMEOUT)
    client._client_handle = AnswerFirst(client._client_handle)
    for _ in range(3):
        handle = ros.wait(client.send_goal_async(PlanGrasp.Goal()), timeout=10.0)  # from this (non-executor) thread
        assert handle.accepted
        assert ros.wait(handle.get_result_async(), timeout=10.0).result.message == "done"


class LosesFirstGoal(ThreadSafeActionClient):
    """Its first goal request vanishes, as DDS can lose a request sent just after discovery."""

    sent = 0

    def send_goal_async(self, *args, **kwargs):
        self.sent += 1
        return Future() if self.sent == 1 else super().send_goal_async(*args, **kwargs)


def test_an_unanswered_planning_goal_is_sent_once_more(ros):
    def execute(goal_handle):
        goal_handle.succeed()
        return PlanGrasp.Result(status=PlanGrasp.Result.SUCCESS, message="done")

    server_node = ros.add(Node("resend_server", namespace="resend", context=ros.context))
    ActionServer(server_node, PlanGrasp, "plan_grasp", execute)
    client_node = ros.add(Node("resend_client", namespace="resend", context=ros.context))
    client = LosesFirstGoal(client_node, PlanGrasp, "plan_grasp")
    assert client.wait_for_server(timeout_sec=DISCOVERY_TIMEOUT)
    result = ros.send_goal(client, PlanGrasp.Goal(), 10.0, accept_timeout=1.0, resend_unanswered=True)
    assert result.message == "done" and client.sent == 2
    # Without resending (goals with side effects: robot motion) the caller hears it and nothing is sent again.
    client.sent = 0
    with pytest.raises(GoalUnansweredError, match=r"not answered within 1\.0 s"):
        ros.send_goal(client, PlanGrasp.Goal(), 10.0, accept_timeout=1.0)
    assert client.sent == 1
