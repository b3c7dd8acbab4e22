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

import concurrent.futures
import contextlib
import http.client
import http.cookiejar
import os
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gqcnn_core.gripper import Gripper
from gqcnn_core.paths import DEFAULT_EXTRINSICS_FILE
from yumi_bridge.backend import Logger, RobotError
from yumi_bridge.frames import CameraExtrinsics, load_extrinsics, pose_parts
from yumi_bridge.motion import ExecutionOutcome, MotionConfig, MotionPlan, Waypoint, setting

FACTORY_USER = "Default User"
FACTORY_PASSWORD = "robotics"
GRIPPER_NONE, GRIPPER_OPEN, GRIPPER_CLOSE = 0, 1, 2  # nGripperCmd values in DexnetGrasp.mod
STATE_CHECK_INTERVAL = 1.0  # s between RAPID execution state checks while a waypoint runs
FORM_SAFE = '[],.-+:"'  # RAPID brackets, commas and quotes stay literal in form bodies, as ABB's own clients send
CANCEL_POLL = 0.05  # s between cancel checks while a request is in flight


class _SilentLogger:
    def info(self, message: str) -> None:
        pass

    def warning(self, message: str) -> None:
        pass


@dataclass(frozen=True)
class RwsSettings:
    """Settings of the rws backend (ROS parameters of the execute_grasp node with the same names)."""

    extrinsics_file: str = setting("", "Camera extrinsics YAML (camera pose in the base frame); empty: the shipped "
                                   "config/camera_extrinsics.yaml (uncalibrated: every goal is refused)")
    rws_address: str = setting("http://192.168.125.1", "Controller URL (YuMi service port: http://192.168.125.1)")
    rws_robotware: int = setting(6, "RobotWare major version: 6 (HTTP, digest auth) or 7 (HTTPS, basic auth)",
                                 choices=(6, 7))
    rws_user: str = setting("", "RWS user; empty: $YUMI_RWS_USER, else ABB's factory 'Default User'")
    rws_password: str = setting("", "RWS password; empty: $YUMI_RWS_PASSWORD, else the factory password")
    rws_verify_tls: bool = setting(False, "Verify the controller's HTTPS certificate (OmniCore ships self-signed)")
    rws_ca_file: str = setting("", "CA/certificate file to verify the controller against (implies verification)")
    rws_timeout: float = setting(5.0, "Timeout of one HTTP request, s", low=0.001)
    rws_motion_timeout: float = setting(60.0, "Longest wait for one waypoint to finish, s", low=0.001)
    rws_poll_interval: float = setting(0.05, "Pause between polls of the command state, s", low=0.0001,
                                       high=10.0)
    rws_module: str = setting("DexnetGrasp", "RAPID module holding the command variables")
    rws_task_left: str = setting("T_ROB_L", "RAPID task of the left arm")
    rws_task_right: str = setting("T_ROB_R", "RAPID task of the right arm")
    rws_start_rapid: bool = setting(False, "Start RAPID execution if it is stopped (else refuse with a message)")
    rws_held_min_width: float = setting(0.002, "Jaw opening below which the gripper holds nothing, m", low=0.0)
    rws_allow_insecure_http: bool = setting(
        False, "RobotWare 7 over http:// (Basic credentials in clear on every request): refused unless true"
    )

    def __post_init__(self) -> None:
        if self.rws_robotware not in (6, 7):
            raise ValueError(f"rws_robotware must be 6 or 7, got {self.rws_robotware}")
        parts = urllib.parse.urlsplit(self.rws_address)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"rws_address must look like http://host[:port] or https://host, got {self.rws_address!r}")
        if parts.username or parts.password:
            raise ValueError("rws_address must not contain credentials: use rws_user / rws_password")
        if self.rws_robotware == 7 and parts.scheme == "http" and not self.rws_allow_insecure_http:
            raise ValueError(
                "RobotWare 7 authenticates with Basic credentials, which http:// sends in clear on every request: "
                "use https:// (rws_ca_file to verify the controller) or set rws_allow_insecure_http: true"
            )
        for name in ("rws_timeout", "rws_motion_timeout", "rws_poll_interval"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")


class RwsError(RobotError):
    """The controller refused a request, reported a RAPID error, or stopped; the message says which."""


class RwsConnectionError(RwsError):
    """The controller could not be reached or stopped answering."""


class RwsCanceledError(Exception):
    """A request was abandoned because the goal was canceled (not a robot fault)."""


def credentials(settings: RwsSettings) -> tuple[str, str]:
    user = settings.rws_user or os.environ.get("YUMI_RWS_USER") or FACTORY_USER
    password = settings.rws_password or os.environ.get("YUMI_RWS_PASSWORD") or FACTORY_PASSWORD
    return user, password


def find_class_text(document: str, css_class: str) -> str | None:
    """Text of the first element with class=`css_class` in an RWS XHTML answer (namespace-agnostic)."""
    try:
        root = ET.fromstring(document)
    except ET.ParseError:
        return None
    for element in root.iter():
        if css_class in (element.get("class") or "").split():
            return "".join(element.itertext()).strip()
    return None


def robtarget_text(base_flange: np.ndarray) -> str:
    """RAPID robtarget for a flange pose (metres -> mm, quaternion [w, x, y, z]); robconf/extax are placeholders
    that the RAPID module replaces with the current configuration and arm angle."""
    position, (x, y, z, w) = pose_parts(base_flange)
    mm = position * 1000.0
    return (
        f"[[{mm[0]:.2f},{mm[1]:.2f},{mm[2]:.2f}],[{w:.6f},{x:.6f},{y:.6f},{z:.6f}],[0,0,0,4],"
        "[9E+09,9E+09,9E+09,9E+09,9E+09,9E+09]]"
    )


class RwsClient:
    """Minimal RWS session: read/write RAPID symbols, RAPID execution and controller state."""

    def __init__(self, settings: RwsSettings, logger: Logger | None = None) -> None:
        self.settings = settings
        self.base_url = settings.rws_address.rstrip("/")
        self.logger = logger or _SilentLogger()
        self._v2 = settings.rws_robotware == 7
        self._session_open = False
        self._should_cancel: Callable[[], bool] = lambda: False
        # Requests run there so that the caller can stop waiting (cancel); an abandoned one ends by its timeout.
        self._workers: concurrent.futures.ThreadPoolExecutor | None = None
        if self._v2 and self.base_url.startswith("http:"):
            self.logger.warning(
                f"rws_allow_insecure_http: the RWS password goes in clear to {self.base_url} with every request"
            )
        user, password = credentials(settings)
        handlers: list[urllib.request.BaseHandler] = [urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())]
        if self._v2:
            passwords = urllib.request.HTTPPasswordMgrWithPriorAuth()
            passwords.add_password(None, self.base_url, user, password, is_authenticated=True)  # send up front
            handlers.append(urllib.request.HTTPBasicAuthHandler(passwords))
        else:
            passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
            passwords.add_password(None, self.base_url, user, password)
            handlers.append(urllib.request.HTTPDigestAuthHandler(passwords))
        if self.base_url.startswith("https"):
            handlers.append(urllib.request.HTTPSHandler(context=self._tls_context()))
        self._opener = urllib.request.build_opener(*handlers)

    def _tls_context(self) -> ssl.SSLContext:
        if self.settings.rws_ca_file:
            return ssl.create_default_context(cafile=self.settings.rws_ca_file)
        context = ssl.create_default_context()
        if not self.settings.rws_verify_tls:
            self.logger.info("TLS certificate verification is off (rws_verify_tls: false)")
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    # ---- HTTP ----------------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def cancellable(self, should_cancel: Callable[[], bool]) -> Iterator[None]:
        """Within the block, a request in flight raises RwsCanceledError as soon as `should_cancel()` is true."""
        self._should_cancel = should_cancel
        try:
            yield
        finally:
            self._should_cancel = lambda: False

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> str:
        """One request; returns the body. Raises RwsConnectionError or RwsError with the reason in words, and
        RwsCanceledError when canceled (see `cancellable`) before the controller answered."""
        if self._workers is None:
            self._workers = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="rws")
        future = self._workers.submit(self._request, method, path, form)
        while True:
            try:
                return future.result(timeout=CANCEL_POLL)
            except concurrent.futures.TimeoutError:
                if self._should_cancel():
                    future.cancel()
                    raise RwsCanceledError(f"canceled while waiting for the controller ({method} {path})") from None

    def _request(self, method: str, path: str, form: dict[str, str] | None) -> str:
        body = None
        headers = {"Accept": "application/xhtml+xml;v=2.0" if self._v2 else "application/xhtml+xml"}
        if form is not None:
            body = "&".join(f"{k}={urllib.parse.quote(v, safe=FORM_SAFE)}" for k, v in form.items()).encode()
            headers["Content-Type"] = (
                "application/x-www-form-urlencoded;v=2.0" if self._v2 else "application/x-www-form-urlencoded"
            )
        request = urllib.request.Request(self.base_url + path, data=body, headers=headers, method=method)
        try:
            with self._opener.open(request, timeout=self.settings.rws_timeout) as response:
                self._session_open = True
                return response.read().decode("utf-8", errors="replace")
        except urllib.error.HTTPError as err:
            detail = find_class_text(err.read().decode("utf-8", errors="replace"), "msg") or err.reason
            raise RwsError(f"{method} {path}: HTTP {err.code} {_http_hint(err.code)}{detail}") from None
        except ValueError as err:  # urllib's auth handler meets a scheme it was not built for
            raise RwsError(
                f"{method} {path}: the controller asks for {_auth_scheme(err)} authentication: is rws_robotware "
                f"right ({self.settings.rws_robotware})?"
            ) from None
        except (urllib.error.URLError, http.client.HTTPException, OSError) as err:  # OSError: timeouts, resets, TLS
            reason = getattr(err, "reason", err)
            raise RwsConnectionError(
                f"no answer from the robot controller at {self.base_url} ({method} {path}): {reason}"
            ) from None

    def _symbol_path(self, task: str, symbol: str) -> str:
        module = self.settings.rws_module
        if self._v2:
            return f"/rw/rapid/symbol/RAPID/{task}/{module}/{symbol}/data"
        return f"/rw/rapid/symbol/data/RAPID/{task}/{module}/{symbol}"

    def read_symbol(self, task: str, symbol: str) -> str:
        text = find_class_text(self.request("GET", self._symbol_path(task, symbol)), "value")
        if text is None:
            raise RwsError(f"the controller's answer for {task}/{symbol} has no value")
        return text

    def read_number(self, task: str, symbol: str) -> float:
        text = self.read_symbol(task, symbol)
        try:
            return float(text)
        except ValueError:
            raise RwsError(f"{task}/{symbol} is {text!r}, not a number") from None

    def write_symbol(self, task: str, symbol: str, value: str) -> None:
        query = "?mastership=implicit" if self._v2 else "?action=set"
        self.request("POST", self._symbol_path(task, symbol) + query, {"value": value})

    def execution_state(self) -> str:
        """RAPID execution state: "running" or "stopped"."""
        return find_class_text(self.request("GET", "/rw/rapid/execution"), "ctrlexecstate") or "unknown"

    def controller_state(self) -> str:
        """Controller state: "motoron", "motoroff", "guardstop", "emergencystop", ..."""
        path = "/rw/panel/ctrl-state" if self._v2 else "/rw/panel/ctrlstate"
        return find_class_text(self.request("GET", path), "ctrlstate") or "unknown"

    def start_rapid(self) -> None:
        form = {
            "regain": "continue",
            "execmode": "continue",
            "cycle": "forever",
            "condition": "none",
            "stopatbp": "disabled",
            "alltaskbytsp": "false",
        }
        path = "/rw/rapid/execution/start?mastership=implicit" if self._v2 else "/rw/rapid/execution?action=start"
        self.request("POST", path, form)

    def close(self) -> None:
        """End the session (frees one of the controller's few session slots); errors are ignored."""
        if self._session_open:
            with contextlib.suppress(RwsError):
                self.request("GET", "/logout")
            self._session_open = False
        if self._workers is not None:
            self._workers.shutdown(wait=False, cancel_futures=True)
            self._workers = None


def _auth_scheme(err: ValueError) -> str:
    scheme = str(err).rpartition(":")[2].strip(" '\"")
    return scheme or "another"


def _http_hint(code: int) -> str:
    hints = {
        401: "(authentication failed: check rws_user / rws_password) ",
        403: "(forbidden: mastership held by another client, or the controller is in manual mode) ",
        404: "(not found: is the DexnetGrasp module loaded into this task?) ",
    }
    return hints.get(code, "")


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
        self.logger = logger or _SilentLogger()
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
