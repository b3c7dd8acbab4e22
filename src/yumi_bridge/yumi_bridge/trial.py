"""One grasp trial in the simulated world: the gripper follows a motion plan, the outcome is judged on the way.

Protocol (Dex-Net 2.0's physical benchmark: grasp, lift, transport, shake): the gripper starts at the pre-grasp
pose, approaches, closes with the force limit, lifts, transports to the drop pose and shakes there; success is an
object still between both fingers and off the table after shaking. Failure causes: "collision" (the gripper hit
the table, or pushed an object harder than `sim_collision_force`, on the way down), "missed" (the jaws closed
without both fingers on an object, or shut as the physical executor judges it), "slipped" (lost while lifting or
transporting), "dropped_while_shaking".
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from yumi_bridge.motion import ExecutionOutcome, MotionPlan
from yumi_bridge.rws_client import RwsSettings
from yumi_bridge.world import World

CHECK_EVERY = 25  # steps between cancel checks
# Jaws closed narrower than this hold nothing: the physical executor's test (rws.py, rws_held_min_width). Contacts
# alone are not enough: in heaps, fingertips that met on an object's top (both touching it from above, jaws shut)
# passed as a grip and were then reported as slips during the lift.
HELD_MIN_WIDTH = RwsSettings().rws_held_min_width


@dataclass(frozen=True)
class TrialResult:
    outcome: ExecutionOutcome
    held_object: int | None  # the object judged held at release (None unless successful)
    collided_object: int | None  # the object pushed too hard on the way down (cause "collision"), if any


class _Stop(Exception):  # noqa: N818 - control flow inside a trial, never escapes it
    def __init__(self, cause: str, message: str, collided: int | None = None) -> None:
        super().__init__(message)
        self.cause, self.message, self.collided = cause, message, collided


def _smoothstep(alpha: np.ndarray) -> np.ndarray:
    return alpha * alpha * (3.0 - 2.0 * alpha)


class Trial:
    """Executes one plan in `world` from its current state (objects at rest) and judges it."""

    def __init__(
        self,
        world: World,
        on_phase: Callable[[str], None] | None = None,
        should_cancel: Callable[[], bool] | None = None,
    ) -> None:
        self.world = world
        self.on_phase = on_phase or (lambda phase: None)
        self.should_cancel = should_cancel or (lambda: False)
        self.phases: list[str] = []
        self.steps = 0
        present = (k for k in range(world.n_objects) if k not in world.removed)
        self.start_heights = {k: world.object_height(k) for k in present}  # "held" means lifted from here

    def run(self, plan: MotionPlan) -> TrialResult:
        world = self.world
        world.teleport_gripper(plan.waypoints[0].pose, plan.open_width)
        previous = plan.waypoints[0].pose
        shaken = False
        try:
            for waypoint in plan.waypoints:
                if not self.phases or self.phases[-1] != waypoint.phase:
                    self.phases.append(waypoint.phase)
                    self.on_phase(waypoint.phase)
                if waypoint.phase == "release":
                    # Judge before letting go: success is the object still held after transport and shaking.
                    width = world.jaw_opening()
                    held = self._held()
                    if held is None:
                        if shaken:
                            return self._result(False, "dropped_while_shaking", "the object fell out while shaking")
                        return self._result(False, "slipped", "the object slipped out during transport")
                    self._move(previous, waypoint.pose, waypoint.speed, False)
                    self._open(waypoint.gripper_width)
                    return self._result(True, "", "", width, held=held)
                self._move(previous, waypoint.pose, waypoint.speed, waypoint.phase in ("pre_grasp", "approach"))
                previous = waypoint.pose
                if waypoint.gripper == "open":
                    self._open(waypoint.gripper_width)
                elif waypoint.gripper == "close":
                    self._close()
                    if world.jaw_opening() < HELD_MIN_WIDTH or not world.contacts().gripping():
                        return self._result(False, "missed", "the jaws closed shut or not both on the object")
                if waypoint.name in ("lift", "transport") and self._held() is None:
                    return self._result(False, "slipped", f"the object slipped out during {waypoint.name}")
                shaken = shaken or waypoint.name.startswith("shake")
        except _Stop as stop:
            return self._result(False, stop.cause, stop.message, collided=stop.collided)
        held = self._held()  # a plan without a release step: judge at its end
        if held is None:
            return self._result(False, "slipped", "the object was not held at the end")
        return self._result(True, "", "", held=held)

    def _result(
        self,
        success: bool,
        cause: str,
        message: str,
        width: float | None = None,
        held: int | None = None,
        collided: int | None = None,
    ) -> TrialResult:
        width = self.world.jaw_opening() if width is None else width
        outcome = ExecutionOutcome(success, cause, message, width, self.world.time, list(self.phases))
        return TrialResult(outcome, held, collided)

    def _held(self) -> int | None:
        """The object between both fingers and lifted at least half the lift height, if any."""
        world = self.world
        threshold = 0.5 * world.config.lift_height
        for k in world.contacts().gripping():
            if k in self.start_heights and world.object_height(k) > self.start_heights[k] + threshold:
                return k
        return None

    def _step(self, watch_collisions: bool) -> None:
        world = self.world
        world.step()
        self.steps += 1
        if watch_collisions:
            contacts = world.contacts()
            if contacts.gripper_on_table:
                raise _Stop("collision", "the gripper hit the table on the way down")
            for k, force in contacts.force_on.items():
                if force > world.settings.sim_collision_force:
                    raise _Stop("collision", f"the gripper pushed the object with {force:.1f} N on the way down", k)
        if self.steps % CHECK_EVERY == 0 and self.should_cancel():
            raise _Stop("canceled", "canceled")

    def _move(self, start: np.ndarray, goal: np.ndarray, speed: float, watch_collisions: bool) -> None:
        world = self.world
        distance = float(np.linalg.norm(goal[:3, 3] - start[:3, 3]))
        rotations = Rotation.from_matrix(np.stack([start[:3, :3], goal[:3, :3]]))
        angle = (rotations[0].inv() * rotations[1]).magnitude()
        duration = max(distance / speed, angle / world.config.max_angular_speed)
        steps = max(math.ceil(duration / world.timestep), 1)
        alphas = _smoothstep(np.arange(1, steps + 1) / steps)
        positions = (1 - alphas)[:, None] * start[:3, 3] + alphas[:, None] * goal[:3, 3]
        quaternions = Slerp([0.0, 1.0], rotations)(alphas).as_quat()[:, [3, 0, 1, 2]]  # MuJoCo: w first
        for position, quaternion in zip(positions, quaternions, strict=True):
            world.set_hand_target(position, quaternion)
            self._step(watch_collisions)
        for _ in range(int(0.05 / world.timestep)):  # let the weld catch up with the target
            self._step(watch_collisions)

    def _open(self, width: float) -> None:
        self.world.set_jaw_target(width)
        for _ in range(int(1.0 / self.world.timestep)):
            self._step(False)
            if abs(self.world.jaw_opening() - width) < 1e-3:
                break

    def _close(self) -> None:
        """Ramp the jaw target to zero at the gripper speed; the actuator's force limit sets the grip force."""
        world = self.world
        target = world.jaw_opening()
        while target > 0:
            target = max(target - world.settings.sim_gripper_speed * world.timestep, 0.0)
            world.set_jaw_target(target)
            self._step(False)
        for _ in range(int(0.3 / world.timestep)):  # the force builds up and the object settles in the jaws
            self._step(False)
