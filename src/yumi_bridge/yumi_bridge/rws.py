"""The `rws` backend: executes grasp motion plans on an ABB YuMi through Robot Web Services and a RAPID module.

The RAPID side is `config/rapid/DexnetGrasp.mod`, loaded into each arm's motion task and running its `main`
loop. For every waypoint the client writes the flange target (`rTarget`, a robtarget in mm and a [w, x, y, z]
quaternion), the speed and the gripper command into the module's TASK PERS variables, then bumps `nCommand`;
RAPID moves, runs the gripper command and copies `nCommand` into `nDone` (or sets `nError`/`sError`). The client
polls `nDone`, checks the RAPID execution state while it waits and reads the jaw opening `nGripperPos` after
closing and before release to tell a held object from a missed or dropped one. The robot never moves on its own
initiative: nothing happens unless RAPID is running DexnetGrasp, started on the FlexPendant (or by this client
when `rws_start_rapid` is true).

Protocols (ABB Application Manual "Robot Web Services", RWS 1.0 for RobotWare 6 and RWS 2.0 for RobotWare 7):
- RobotWare 6 (IRC5, the YuMi IRB 14000): HTTP, digest authentication, XHTML responses,
  `GET/POST /rw/rapid/symbol/data/RAPID/{task}/{module}/{symbol}[?action=set]`; writing a RAPID variable takes
  RAPID mastership implicitly.
- RobotWare 7 (OmniCore): HTTPS (self-signed certificate by default), basic authentication,
  `GET/POST /rw/rapid/symbol/RAPID/{task}/{module}/{symbol}/data[?mastership=implicit]` with `;v=2.0` media types.
  Basic authentication sends the password with every request, so RobotWare 7 over plain `http://` is refused
  unless `rws_allow_insecure_http` is set (then it warns once).
Session cookies are kept (controllers allow only a few dozen sessions, so one is reused, and released with
`GET /logout` by `close()`). Credentials come from parameters or the environment (YUMI_RWS_USER,
YUMI_RWS_PASSWORD), fall back to ABB's factory "Default User"/"robotics", and never appear in logs or errors.
Every request runs on a worker thread and is waited for in short slices, so a cancel ends the goal at once even
while the controller does not answer (the request is abandoned; a RAPID move already started still finishes).

What could NOT be verified without a robot (tested only against a local fake server that follows the manual):
- the exact XHTML the controllers return (parsed leniently: any element with class="value" etc.), and whether
  RW 7.x accepts `mastership=implicit` on symbol writes for TASK PERS data while RAPID runs;
- the RAPID module itself (it was never loaded into a controller): SmartGripper calls g_MoveTo/g_GripIn/g_GetPos,
  taking robconf and the arm angle from the current position, `ConfL \\Off` for linear moves;
- the default tool offset (flange to finger tips) and which flange axis the fingers close along;
- reachability beyond the motion.py sphere check: an unreachable target makes RAPID report an error, which
  ends the goal with ROBOT_ERROR.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from gqcnn_core.frames import CameraExtrinsics, load_extrinsics, pose_parts
from gqcnn_core.gripper import Gripper
from gqcnn_core.paths import DEFAULT_EXTRINSICS_FILE
from yumi_bridge.backend import Logger
from yumi_bridge.motion import ExecutionOutcome, MotionConfig, MotionPlan, Waypoint
from yumi_bridge.rws_client import (  # noqa: F401 - the rws backend's public names, importable from here
    RwsCanceledError,
    RwsClient,
    RwsConnectionError,
    RwsError,
    RwsSettings,
    SilentLogger,
)

GRIPPER_NONE, GRIPPER_OPEN, GRIPPER_CLOSE = 0, 1, 2  # nGripperCmd values in DexnetGrasp.mod
STATE_CHECK_INTERVAL = 1.0  # s between RAPID execution state checks while a waypoint runs


def robtarget_text(base_flange: np.ndarray) -> str:
    """RAPID robtarget for a flange pose (metres -> mm, quaternion [w, x, y, z]); robconf/extax are placeholders
    that the RAPID module replaces with the current configuration and arm angle."""
    position, (x, y, z, w) = pose_parts(base_flange)
    mm = position * 1000.0
    return (
        f"[[{mm[0]:.2f},{mm[1]:.2f},{mm[2]:.2f}],[{w:.6f},{x:.6f},{y:.6f},{z:.6f}],[0,0,0,4],"
        "[9E+09,9E+09,9E+09,9E+09,9E+09,9E+09]]"
    )



class RwsBackend:
    """The `rws` Backend (backend.py): executes MotionPlans through RwsClient and DexnetGrasp.mod, one waypoint
    per RAPID command, with the camera extrinsics of `extrinsics_file`."""

    name = "rws"
    Settings = RwsSettings

    def __init__(
        self, settings: RwsSettings, config: MotionConfig, gripper: Gripper, logger: Logger | None = None
    ) -> None:
        self.settings = settings
        self.config = config
        self.gripper = gripper
        self.logger = logger or SilentLogger()
        self.tool = config.tool_offset()
        self.extrinsics = self._load_extrinsics()
        self.client = RwsClient(settings, self.logger)

    def _load_extrinsics(self) -> CameraExtrinsics:
        path = Path(self.settings.extrinsics_file) if self.settings.extrinsics_file else DEFAULT_EXTRINSICS_FILE
        try:
            extrinsics = load_extrinsics(path)
        except (OSError, ValueError) as err:
            # Not fatal: every goal is refused with NOT_CALIBRATED and this reason.
            self.logger.warning(f"no usable camera extrinsics: {err}")
            return CameraExtrinsics(calibrated=False, source=str(err))
        if not extrinsics.calibrated:
            self.logger.warning(
                f"camera extrinsics not calibrated ({extrinsics.source}): goals will be refused with NOT_CALIBRATED"
            )
        return extrinsics

    def close(self) -> None:
        self.client.close()

    def task(self, arm: str) -> str:
        return self.settings.rws_task_left if arm == "left" else self.settings.rws_task_right

    def check_ready(self) -> None:
        """Raise RwsError unless the motors are on and RAPID runs (starting it if allowed)."""
        state = self.client.controller_state()
        if state != "motoron":
            raise RwsError(f"controller state is '{state}', not 'motoron': switch the motors on")
        if self.client.execution_state() != "running":
            if not self.settings.rws_start_rapid:
                raise RwsError(
                    "RAPID is not running: start DexnetGrasp's main in both arm tasks on the FlexPendant "
                    "(or set rws_start_rapid: true)"
                )
            self.logger.info("starting RAPID execution")
            self.client.start_rapid()
            if self.client.execution_state() != "running":
                raise RwsError("RAPID did not start (check the FlexPendant for errors; AUTO mode is required)")

    def execute(
        self,
        plan: MotionPlan,
        on_phase: Callable[[str], None] | None = None,
        should_cancel: Callable[[], bool] | None = None,
    ) -> ExecutionOutcome:
        """Run the plan waypoint by waypoint. A cancel takes effect between waypoints, or at once while a request
        waits for the controller; a started RAPID move always finishes (stopping RAPID mid-move would leave the
        program pointer inside the routine)."""
        on_phase = on_phase or (lambda phase: None)
        should_cancel = should_cancel or (lambda: False)
        start = time.monotonic()
        phases: list[str] = []
        width = 0.0

        def outcome(success: bool, cause: str, message: str) -> ExecutionOutcome:
            return ExecutionOutcome(success, cause, message, width, time.monotonic() - start, phases)

        task = self.task(plan.arm)
        step = "the readiness check"
        try:
            with self.client.cancellable(should_cancel):
                self.check_ready()
                command = int(self.client.read_number(task, "nDone"))
                for waypoint in plan.waypoints:
                    step = waypoint.name
                    if should_cancel():
                        return outcome(False, "canceled", f"canceled before {waypoint.name}")
                    if not phases or phases[-1] != waypoint.phase:
                        phases.append(waypoint.phase)
                        on_phase(waypoint.phase)
                    if waypoint.phase == "release":
                        # Judge before letting go: the jaws must still be apart, i.e. something is between them.
                        width = self.client.read_number(task, "nGripperPos") / 1000.0
                        if width < self.settings.rws_held_min_width:
                            return outcome(
                                False,
                                "slipped",
                                f"the jaws closed to {width * 1000:.1f} mm during transport: the object was lost",
                            )
                    command += 1
                    self.run_command(task, waypoint, command)
                    if waypoint.gripper == "close":
                        width = self.client.read_number(task, "nGripperPos") / 1000.0
                        if width < self.settings.rws_held_min_width:
                            return outcome(
                                False, "missed", f"the jaws closed to {width * 1000:.1f} mm: nothing grasped"
                            )
        except RwsCanceledError:
            return outcome(False, "canceled", f"canceled during {step} while the controller had not answered")
        return outcome(True, "", "")

    def run_command(self, task: str, waypoint: Waypoint, command: int) -> None:
        """Write one waypoint into the RAPID variables, trigger it and wait until RAPID reports it done."""
        client = self.client
        client.write_symbol(task, "rTarget", robtarget_text(self.tool.flange_pose(waypoint.pose)))
        client.write_symbol(task, "nSpeed", f"{waypoint.speed * 1000.0:.1f}")
        client.write_symbol(task, "nOriSpeed", f"{np.degrees(self.config.max_angular_speed):.1f}")
        gripper = {"open": GRIPPER_OPEN, "close": GRIPPER_CLOSE}.get(waypoint.gripper, GRIPPER_NONE)
        client.write_symbol(task, "nGripperCmd", str(gripper))
        if gripper == GRIPPER_OPEN:
            client.write_symbol(task, "nGripperWidth", f"{waypoint.gripper_width * 1000.0:.1f}")
        if gripper == GRIPPER_CLOSE:
            client.write_symbol(task, "nGripperForce", f"{waypoint.gripper_force:.1f}")
        client.write_symbol(task, "nCommand", str(command))
        self.wait_done(task, waypoint.name, command)

    def wait_done(self, task: str, name: str, command: int) -> None:
        deadline = time.monotonic() + self.settings.rws_motion_timeout
        next_state_check = time.monotonic() + STATE_CHECK_INTERVAL
        while True:
            if int(self.client.read_number(task, "nDone")) >= command:
                break
            now = time.monotonic()
            if now > deadline:
                raise RwsError(f"waypoint '{name}' did not finish within {self.settings.rws_motion_timeout:.0f} s")
            if now > next_state_check:  # a stopped program never finishes: say so instead of timing out
                next_state_check = now + STATE_CHECK_INTERVAL
                state = self.client.execution_state()
                if state != "running":
                    raise RwsError(
                        f"RAPID execution is '{state}' while waiting for waypoint '{name}' "
                        "(emergency stop, or stopped on the FlexPendant?)"
                    )
            time.sleep(self.settings.rws_poll_interval)
        error = int(self.client.read_number(task, "nError"))
        if error:
            message = self.client.read_symbol(task, "sError").strip('"')
            raise RwsError(f"RAPID reported error {error} at waypoint '{name}': {message}")
