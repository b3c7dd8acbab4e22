"""A minimal Robot Web Services (RWS) session with an ABB controller: settings, authentication, RAPID symbols.

RobotWare 6 (RWS 1.0: HTTP, digest authentication) and RobotWare 7 (RWS 2.0: HTTPS, Basic authentication, `;v=2.0`
media types). Session cookies are kept and released by `close()`. Every request runs on a worker thread and is
waited for in short slices, so a caller's cancel (`cancellable`) ends the wait at once even while the controller
does not answer. Credentials never appear in logs or errors. rws.py executes motion plans with it.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import http.client
import http.cookiejar
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from yumi_bridge.backend import Logger, RobotError
from yumi_bridge.motion import setting

FACTORY_USER = "Default User"
FACTORY_PASSWORD = "robotics"
FORM_SAFE = '[],.-+:"'  # RAPID brackets, commas and quotes stay literal in form bodies, as ABB's own clients send
CANCEL_POLL = 0.05  # s between cancel checks while a request is in flight


class SilentLogger:
    """Drops messages (a client or backend built without a logger)."""

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


class RwsClient:
    """Minimal RWS session: read/write RAPID symbols, RAPID execution and controller state."""

    def __init__(self, settings: RwsSettings, logger: Logger | None = None) -> None:
        self.settings = settings
        self.base_url = settings.rws_address.rstrip("/")
        self.logger = logger or SilentLogger()
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
