"""`pick`: one pick with the running stack: a PlanGrasp goal, then an ExecuteGrasp goal with the planned grasp.

    ros2 run yumi_bridge pick --ros-args -p policy:=cem -p arm:=right -p dry_run:=true

It prints one JSON line (the planned grasp, planning time, execution status and outcome) and exits 0 when the
object is held (with dry_run: when the executor accepts the motion), 1 when planning or execution fails, with the
action's status and message, 2 on a bad parameter. A goal it stops waiting for (timeout, Ctrl-C) is canceled.
It is also the example of calling both actions from your own code.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from typing import Any

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.action import ActionClient
from rclpy.node import Node

from dexnet_msgs.action import ExecuteGrasp, PlanGrasp
from gqcnn_planner.background_executor import BackgroundExecutor, GoalRejectedError
from gqcnn_planner.ros_conversions import grasp_msg_summary

PARAMETERS = {  # name: (type, default, description)
    "policy": (str, "", "ranking | cem | random | igq; empty: the planner's own policy parameter"),
    "arm": (str, "", "left | right; empty: the executor's default arm"),
    "dry_run": (bool, False, "check and plan the motion only, nothing moves"),
    "server_timeout": (float, 10.0, "s to wait for each action server"),
    "plan_timeout": (float, 30.0, "s to wait for the planned grasp"),
    "execute_timeout": (float, 120.0, "s to wait for the execution; the goal is canceled after that"),
}


def _typed(kind: type, name: str, value: Any) -> Any:
    if kind is bool and not isinstance(value, bool):
        raise ValueError(f"parameter {name} must be true or false, got {value!r}")
    try:
        typed = kind(value)
    except (TypeError, ValueError):
        raise ValueError(f"parameter {name} must be a {kind.__name__}, got {value!r}") from None
    if kind is float and not typed > 0:
        raise ValueError(f"parameter {name} must be > 0 s, got {value!r}")
    return typed


@dataclass
class PickOutcome:
    """What one pick did; `stage` is where it ended: servers, plan, execute or done."""

    stage: str
    success: bool
    message: str = ""
    plan_status: int | None = None
    execute_status: int | None = None
    grasp: dict[str, Any] = field(default_factory=dict)
    planning_time: float | None = None
    phases: list[str] = field(default_factory=list)


class PickClient(Node):
    """Action clients for plan_grasp and execute_grasp; spin it in a BackgroundExecutor and call pick()."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("pick", **kwargs)
        # Dynamic typing, then our own checks: `-p server_timeout:=5` (an int) must not stop the node.
        self.settings = {
            name: _typed(kind, name, self.declare_parameter(
                name, default, ParameterDescriptor(description=text, dynamic_typing=True)).value)
            for name, (kind, default, text) in PARAMETERS.items()}
        self.plan_client = ActionClient(self, PlanGrasp, "plan_grasp")
        self.execute_client = ActionClient(self, ExecuteGrasp, "execute_grasp")

    def wait_for_servers(self) -> str:
        """'' when both action servers answer, else which ones did not."""
        clients = {"plan_grasp": self.plan_client, "execute_grasp": self.execute_client}
        missing = [name for name, client in clients.items()
                   if not client.wait_for_server(timeout_sec=float(self.settings["server_timeout"]))]
        return "" if not missing else f"no action server for {', '.join(missing)}"

    def plan(self, ros: BackgroundExecutor, policy: str | None = None) -> PlanGrasp.Result:
        """Raises TimeoutError or GoalRejectedError; a timed-out goal is canceled."""
        goal = PlanGrasp.Goal(policy=self.settings["policy"] if policy is None else policy)
        return ros.send_goal(self.plan_client, goal, float(self.settings["plan_timeout"]))

    def execute(self, ros: BackgroundExecutor, grasp: Any, phases: list[str] | None = None) -> ExecuteGrasp.Result:
        """Raises TimeoutError or GoalRejectedError; a timed-out goal is canceled (the robot stops)."""
        goal = ExecuteGrasp.Goal(grasp=grasp, arm=self.settings["arm"], dry_run=bool(self.settings["dry_run"]))
        on_feedback = None if phases is None else (lambda msg: phases.append(msg.feedback.phase))
        return ros.send_goal(self.execute_client, goal, float(self.settings["execute_timeout"]), on_feedback)

    def pick(self, ros: BackgroundExecutor) -> PickOutcome:
        """Plan, then execute the planned grasp; never raises for a failed or timed-out step."""
        missing = self.wait_for_servers()
        if missing:
            return PickOutcome("servers", False, missing)
        try:
            planned = self.plan(ros)
        except (TimeoutError, GoalRejectedError) as err:
            return PickOutcome("plan", False, f"plan_grasp: {err}")
        if planned.status != PlanGrasp.Result.SUCCESS:
            return PickOutcome("plan", False, planned.message, plan_status=planned.status)
        outcome = PickOutcome("execute", False, plan_status=planned.status, grasp=grasp_msg_summary(planned.grasp),
                              planning_time=round(planned.planning_time, 3))
        phases: list[str] = []
        try:
            executed = self.execute(ros, planned.grasp, phases)
        except (TimeoutError, GoalRejectedError) as err:
            canceled = " (goal canceled)" if isinstance(err, TimeoutError) else ""
            outcome.message = f"execute_grasp: {err}{canceled}"
            executed = None
        outcome.phases = list(dict.fromkeys(phases))
        if executed is not None:
            outcome.execute_status, outcome.message = executed.status, executed.message
            if executed.status == ExecuteGrasp.Result.SUCCESS and (executed.success or self.settings["dry_run"]):
                outcome.stage, outcome.success = "done", True
        return outcome


def main(args: list[str] | None = None) -> int:
    with BackgroundExecutor(args=args) as ros:
        try:
            client = ros.add(PickClient(context=ros.context))
        except ValueError as err:
            print(json.dumps(asdict(PickOutcome("parameters", False, str(err)))))
            return 2
        try:
            outcome = client.pick(ros)
        except KeyboardInterrupt:  # send_goal has canceled the running goal
            outcome = PickOutcome("interrupted", False, "interrupted; the running goal was canceled")
    print(json.dumps(asdict(outcome)))
    return 0 if outcome.success else 1


if __name__ == "__main__":
    sys.exit(main())
