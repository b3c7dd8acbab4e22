"""Goals sent from a thread other than the executor's complete even when the answer outruns the request's bookkeeping
(ros2/rclpy#1123: rclpy's ActionClient dropped such answers, and the goal's future never completed)."""

import time

from rclpy.action import ActionServer
from rclpy.node import Node
from ros_waits import DISCOVERY_TIMEOUT

from dexnet_msgs.action import PlanGrasp
from gqcnn_planner.action_client import ThreadSafeActionClient


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
