"""A local stand-in for an ABB controller's Robot Web Services, as far as yumi_bridge.rws uses them.

It follows the RWS manual's URLs and XHTML answers for RobotWare 6 (digest auth, session cookie) and 7 (basic
auth, `;v=2.0` media types), keeps DexnetGrasp's RAPID variables per task and "executes" a command the moment
nCommand is written, like the RAPID module would after its move. Every request is recorded.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import ssl
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REALM = "validusers@robapi.abb"
XHTML = (
    '<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml"><head><title>rws</title>'
    '</head><body><div class="state"><ul>{items}</ul></div></body></html>'
)


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


@dataclass
class Recorded:
    method: str
    path: str
    body: str
    auth: str  # "none", "digest", "basic" or "cookie"
    status: int
    content_type: str = ""


def initial_rapid() -> dict[str, str]:
    return {
        "rTarget": "[[350,0,250],[0,1,0,0],[0,0,0,4],[9E+09,9E+09,9E+09,9E+09,9E+09,9E+09]]",
        "nSpeed": "100",
        "nOriSpeed": "85",
        "nGripperCmd": "0",
        "nGripperWidth": "0",
        "nGripperForce": "20",
        "nCommand": "7",
        "nDone": "7",
        "nError": "0",
        "sError": '""',
        "nGripperPos": "0",
    }


@dataclass
class FakeController:
    robotware: int = 6
    user: str = "Default User"
    password: str = "robotics"
    execution: str = "running"
    ctrlstate: str = "motoron"
    grip_width_mm: float = 35.0  # what g_GetPos reports after closing on the object
    drop_after_close: bool = False  # the object slips out on the first move after closing (jaws snap shut)
    fail_command: int = 0  # command number that ends with a RAPID error
    hang: bool = False  # never finish commands
    stall: float = 0.0  # s every answer is held back (a controller that stopped answering)
    tasks: dict[str, dict[str, str]] = field(
        default_factory=lambda: {"T_ROB_L": initial_rapid(), "T_ROB_R": initial_rapid()}
    )
    requests: list[Recorded] = field(default_factory=list)
    nonces: set[str] = field(default_factory=set)
    sessions: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def symbol(self, path: str) -> tuple[str, str] | None:
        """(task, symbol) for a RAPID symbol data URL of this RobotWare version, else None."""
        parts = path.split("/")
        if self.robotware == 6 and parts[1:6] == ["rw", "rapid", "symbol", "data", "RAPID"] and len(parts) == 9:
            task, module, name = parts[6:9]
        elif (
            self.robotware == 7
            and parts[1:5] == ["rw", "rapid", "symbol", "RAPID"]
            and len(parts) == 9
            and parts[8] == "data"
        ):
            task, module, name = parts[5:8]
        else:
            return None
        if module != "DexnetGrasp" or task not in self.tasks or name not in self.tasks[task]:
            return None
        return task, name

    def write(self, task: str, name: str, value: str) -> None:
        rapid = self.tasks[task]
        rapid[name] = value
        if name != "nCommand" or self.hang:
            return
        command = int(float(value))
        if command == self.fail_command:
            rapid["nError"], rapid["sError"] = "50050", '"Position outside reach"'
        else:
            rapid["nError"], rapid["sError"] = "0", '""'
            gripper = int(float(rapid["nGripperCmd"]))
            if self.drop_after_close and float(rapid["nGripperPos"]) == self.grip_width_mm and gripper == 0:
                rapid["nGripperPos"] = "0.0"
            if gripper == 1:
                rapid["nGripperPos"] = rapid["nGripperWidth"]
            elif gripper == 2:
                rapid["nGripperPos"] = f"{self.grip_width_mm:.1f}"
        rapid["nDone"] = str(command)


def make_handler(controller: FakeController) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep test output clean
            pass

        def _authenticate(self) -> str | None:
            cookie = self.headers.get("Cookie", "")
            if any(f"-http-session-={s}" in cookie for s in controller.sessions):
                return "cookie"
            header = self.headers.get("Authorization", "")
            if controller.robotware == 7 and header.startswith("Basic "):
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
                return "basic" if (user, password) == (controller.user, controller.password) else None
            if controller.robotware == 6 and header.startswith("Digest "):
                fields = dict(urllib.request.parse_keqv_list(urllib.request.parse_http_list(header[7:])))
                if fields.get("nonce") not in controller.nonces or fields.get("username") != controller.user:
                    return None
                ha1 = _md5(f"{controller.user}:{REALM}:{controller.password}")
                ha2 = _md5(f"{self.command}:{fields.get('uri')}")
                expected = _md5(
                    f"{ha1}:{fields['nonce']}:{fields.get('nc')}:{fields.get('cnonce')}:{fields.get('qop')}:{ha2}"
                )
                return "digest" if fields.get("response") == expected and fields.get("uri") == self.path else None
            return None

        def _reply(self, status: int, body: str = "", cookie: bool = False, challenge: bool = False) -> None:
            self.send_response(status)
            if challenge:
                if controller.robotware == 6:
                    nonce = secrets.token_hex(8)
                    controller.nonces.add(nonce)
                    self.send_header(
                        "WWW-Authenticate", f'Digest realm="{REALM}", qop="auth", nonce="{nonce}", algorithm=MD5'
                    )
                else:
                    self.send_header("WWW-Authenticate", f'Basic realm="{REALM}"')
            if cookie:
                session = secrets.token_hex(6)
                controller.sessions.add(session)
                self.send_header("Set-Cookie", f"-http-session-={session}; Path=/")
            data = body.encode()
            self.send_header("Content-Type", "application/xhtml+xml")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            if controller.stall:
                time.sleep(controller.stall)
            with controller.lock:
                auth = self._authenticate()
                status, answer = self._route(body) if auth else (401, "")
                record = Recorded(
                    self.command, self.path, body, auth or "none", status, self.headers.get("Content-Type", "")
                )
                controller.requests.append(record)
            self._reply(status, answer, cookie=auth in ("digest", "basic"), challenge=auth is None)

        def _route(self, body: str) -> tuple[int, str]:
            path, _, query = self.path.partition("?")
            symbol = controller.symbol(path)
            item = '<li class="{cls}"><span class="{span}">{value}</span></li>'
            if symbol and self.command == "GET":
                value = controller.tasks[symbol[0]][symbol[1]]
                return 200, XHTML.format(items=item.format(cls="rap-data", span="value", value=value))
            if symbol and self.command == "POST":
                wanted = "mastership=implicit" if controller.robotware == 7 else "action=set"
                if query != wanted:
                    return 400, XHTML.format(items=item.format(cls="status", span="msg", value="bad query"))
                value = urllib.parse.parse_qs(body)["value"][0]
                controller.write(symbol[0], symbol[1], value)
                return 204, ""
            if path == "/rw/rapid/execution" and self.command == "GET":
                return 200, XHTML.format(
                    items=item.format(cls="rap-execution", span="ctrlexecstate", value=controller.execution)
                )
            start = "/rw/rapid/execution/start" if controller.robotware == 7 else "/rw/rapid/execution"
            if path == start and self.command == "POST":
                controller.execution = "running"
                return 204, ""
            panel = "/rw/panel/ctrl-state" if controller.robotware == 7 else "/rw/panel/ctrlstate"
            if path == panel and self.command == "GET":
                return 200, XHTML.format(
                    items=item.format(cls="pnl-ctrlstate", span="ctrlstate", value=controller.ctrlstate)
                )
            if path == "/logout":
                return 204, ""
            return 404, XHTML.format(items=item.format(cls="status", span="msg", value=f"no resource {path}"))

        do_GET = _handle  # noqa: N815 - BaseHTTPRequestHandler's naming
        do_POST = _handle  # noqa: N815

    return Handler


class FakeRwsServer:
    """Serves a FakeController on 127.0.0.1 (HTTP, or HTTPS with `certfile`/`keyfile`) from a thread."""

    def __init__(self, controller: FakeController, certfile: str = "", keyfile: str = "") -> None:
        self.controller = controller
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(controller))
        scheme = "http"
        if certfile:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(certfile, keyfile)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)
