"""`pick`: one pick with the running stack: a PlanGrasp goal, then an ExecuteGrasp goal with the planned grasp.

    ros2 run yumi_bridge pick --ros-args -p policy:=cem -p arm:=right -p dry_run:=true

It prints one JSON line on stdout (the planned grasp, planning time, execution status and outcome) and exits
(README "CLI exit codes") 0 when the object is held (with dry_run: when the executor accepts the motion), 1 when
planning or execution fails, 2 on a bad parameter; on failure one readable line on stderr says why. A goal it stops
waiting for (timeout, Ctrl-C) is canceled. It is also the example of calling both actions from your own code.
"""

from __future__ import annotations

import json
import signal
import sys
from dataclasses import asdict, dataclass, field
from typing import Any

from rclpy.node import Node

from dexnet_msgs.action import ExecuteGrasp, PlanGrasp
from gqcnn_planner.action_client import ThreadSafeActionClient
from gqcnn_planner.node_settings import EXIT_BAD_SETTINGS, SettingsError, declare_settings, setting
from gqcnn_planner.ros_conversions import grasp_msg_summary
from gqcnn_planner.ros_thread import GoalRejectedError, RosThread

EXIT_OK, EXIT_FAILED = 0, 1


@dataclass(frozen=True)
class PickSettings:
    # Not checked here: the planner knows its policies and rejects an unknown one with the reason.
    policy: str = setting("", "Planning policy (ranking, cem, ...); empty: the planner's own policy parameter")
    arm: str = setting("", "Arm to grasp with; empty: the executor's default arm", choices=("", "left", "right"))
    dry_run: bool = setting(False, "Check and plan the motion only, nothing moves")
    server_timeout: float = setting(10.0, "s to wait for each action server", low=0.001)
    plan_timeout: float = setting(30.0, "s to wait for the planned grasp", low=0.001)
    execute_timeout: float = setting(120.0, "s to wait for the execution; the goal is canceled after that", low=0.001)


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
    """Action clients for plan_grasp and execute_grasp; spin it in a RosThread and call pick()."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("pick", **kwargs)
        self.settings = declare_settings(self, PickSettings)
        self.plan_client = ThreadSafeActionClient(self, PlanGrasp, "plan_grasp")
        self.execute_client = ThreadSafeActionClient(self, ExecuteGrasp, "execute_grasp")

    def wait_for_servers(self) -> str:
        """'' when both action servers answer, else which ones did not."""
        clients = {"plan_grasp": self.plan_client, "execute_grasp": self.execute_client}
        self.get_logger().info(f"waiting up to {self.settings.server_timeout} s for the {' and '.join(clients)} "
                               "action servers")
        missing = [name for name, client in clients.items()
                   if not client.wait_for_server(timeout_sec=self.settings.server_timeout)]
        return "" if not missing else f"no action server for {', '.join(missing)}"

    def plan(self, ros: RosThread, policy: str | None = None) -> PlanGrasp.Result:
        """Raises TimeoutError or GoalRejectedError; a timed-out goal is canceled."""
        goal = PlanGrasp.Goal(policy=self.settings.policy if policy is None else policy)
        return ros.send_goal(self.plan_client, goal, self.settings.plan_timeout, resend_unanswered=True)

    def execute(self, ros: RosThread, grasp: Any, phases: list[str] | None = None) -> ExecuteGrasp.Result:
        """Raises TimeoutError or GoalRejectedError; a timed-out goal is canceled (the robot stops)."""
        goal = ExecuteGrasp.Goal(grasp=grasp, arm=self.settings.arm, dry_run=self.settings.dry_run)
        on_feedback = None if phases is None else (lambda msg: phases.append(msg.feedback.phase))
        return ros.send_goal(self.execute_client, goal, self.settings.execute_timeout, on_feedback)

    def pick(self, ros: RosThread) -> PickOutcome:
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
            if executed.status == ExecuteGrasp.Result.SUCCESS and (executed.success or self.settings.dry_run):
                outcome.stage, outcome.success = "done", True
        return outcome


def _interrupt_once(_signum: int, _frame: Any) -> None:
    # A Ctrl-C sent to the whole process group (a terminal, a supervisor, CI) arrives twice: the first interrupts,
    # any later one is ignored, so it cannot land in the clean-up (a half-run shutdown left the spin thread running
    # and the process hanging).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def main(args: list[str] | None = None) -> int:
    signal.signal(signal.SIGINT, _interrupt_once)  # before rclpy.init, whose signal handler chains to it
    try:
        outcome, code = _run(args)
    except KeyboardInterrupt:  # Ctrl-C before any goal was sent (starting up, waiting for the servers)
        outcome, code = PickOutcome("interrupted", False, "interrupted before any goal was sent"), EXIT_FAILED
    print(json.dumps(asdict(outcome)))
    if code != EXIT_OK:
        print(f"pick: {outcome.stage}: {outcome.message}", file=sys.stderr)
    return code


def _run(args: list[str] | None) -> tuple[PickOutcome, int]:
    with RosThread(args=args) as ros:
        try:
            client = ros.add(PickClient(context=ros.context))
        except SettingsError as err:
            return PickOutcome("parameters", False, f"invalid parameter: {err}"), EXIT_BAD_SETTINGS
        try:
            outcome = client.pick(ros)
        except KeyboardInterrupt:  # send_goal has canceled the running goal
            outcome = PickOutcome("interrupted", False, "interrupted; the running goal was canceled")
        return outcome, EXIT_OK if outcome.success else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
