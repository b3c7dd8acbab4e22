"""The RWS client and backend against a local fake controller: auth, exact requests, failures, timeouts, cancel."""

import shutil
import subprocess
import time
from dataclasses import replace

import pytest
from fake_rws import FakeController, FakeRwsServer
from yumi_scenes import BASE_AS_CAMERA, top_down_grasp

from gqcnn_core.gripper import Gripper
from yumi_bridge.backend import Backend
from yumi_bridge.motion import MotionConfig, plan_grasp_motion
from yumi_bridge.rws import RwsBackend, RwsClient, RwsConnectionError, RwsError, RwsSettings, robtarget_text

PASSWORD = "s3cret-pw"  # a test password that must never show up in logs or errors
CONFIG = MotionConfig()
PLAN = plan_grasp_motion(top_down_grasp(0.40, 0.0, 0.035), 0.035, 0.9, "right", CONFIG, BASE_AS_CAMERA)


@pytest.fixture
def controller():
    return FakeController(password=PASSWORD)


@pytest.fixture
def server(controller):
    server = FakeRwsServer(controller)
    yield server
    server.stop()


class ListLogger:
    """Records what the backend logs, as "info: ..." / "warning: ..." lines."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, message: str) -> None:
        self.lines.append(f"info: {message}")

    def warning(self, message: str) -> None:
        self.lines.append(f"warning: {message}")


def executor_for(url, robotware=6, logger=None, **overrides):
    options = {"rws_timeout": 2.0, "rws_poll_interval": 0.001, **overrides}
    settings = RwsSettings(rws_address=url, rws_robotware=robotware, rws_password=PASSWORD, **options)
    return RwsBackend(settings, CONFIG, Gripper(), logger)


def test_robtarget_is_the_flange_pose_in_mm_with_w_first():
    flange = top_down_grasp(0.4, -0.1, 0.15)
    assert robtarget_text(flange) == (
        "[[400.00,-100.00,150.00],[0.000000,1.000000,0.000000,0.000000],[0,0,0,4],"
        "[9E+09,9E+09,9E+09,9E+09,9E+09,9E+09]]"
    )


def test_rw6_digest_session_and_exact_request_sequence(server, controller):
    logger = ListLogger()
    logs = logger.lines
    backend = executor_for(server.url, logger=logger)
    assert isinstance(backend, Backend) and backend.name == "rws"
    outcome = backend.execute(PLAN, on_phase=logs.append)
    assert outcome.success and outcome.cause == ""
    assert outcome.final_width == pytest.approx(0.035)
    assert outcome.phases == ["pre_grasp", "approach", "close", "lift", "transport", "release"]

    requests = controller.requests
    # One digest challenge, then the session cookie carries every further request.
    assert [(r.status, r.auth) for r in requests[:2]] == [(401, "none"), (200, "digest")]
    assert all(r.auth == "cookie" for r in requests[2:])
    symbol = "/rw/rapid/symbol/data/RAPID/T_ROB_R/DexnetGrasp/"
    flange = CONFIG.tool_offset().flange_pose(PLAN.waypoints[0].pose)
    expected = [
        ("GET", "/rw/panel/ctrlstate", ""),
        ("GET", "/rw/rapid/execution", ""),
        ("GET", symbol + "nDone", ""),
        ("POST", symbol + "rTarget?action=set", "value=" + robtarget_text(flange)),
        ("POST", symbol + "nSpeed?action=set", "value=200.0"),
        ("POST", symbol + "nOriSpeed?action=set", "value=85.9"),
        ("POST", symbol + "nGripperCmd?action=set", "value=1"),
        ("POST", symbol + "nGripperWidth?action=set", "value=50.0"),  # opened fully (open_fully)
        ("POST", symbol + "nCommand?action=set", "value=8"),  # the fake controller's nDone was 7
        ("GET", symbol + "nDone", ""),
        ("GET", symbol + "nError", ""),
        ("POST", symbol + "rTarget?action=set", None),  # the approach waypoint follows
    ]
    served = [(r.method, r.path, r.body) for r in requests if r.status != 401]
    for (method, path, body), got in zip(expected, served, strict=False):
        assert got[:2] == (method, path)
        if body is not None:
            assert got[2] == body
    assert all(r.content_type == "application/x-www-form-urlencoded" for r in requests if r.method == "POST")
    closes = [r for r in requests if r.path.startswith(symbol + "nGripperCmd") and r.body == "value=2"]
    assert len(closes) == 1
    assert controller.tasks["T_ROB_R"]["nDone"] == str(7 + len(PLAN.waypoints))
    assert controller.tasks["T_ROB_L"]["nDone"] == "7"  # the other arm was never touched
    assert not any(PASSWORD in line for line in logs)


def test_wrong_password_is_an_auth_error_without_the_password(server):
    settings = replace(executor_for(server.url).settings, rws_password="wrong-guess")
    bad = RwsBackend(settings, CONFIG, Gripper())
    with pytest.raises(RwsError, match="authentication failed") as info:
        bad.execute(PLAN)
    assert "wrong-guess" not in str(info.value) and PASSWORD not in str(info.value)


def test_credentials_come_from_the_environment(server, monkeypatch):
    monkeypatch.setenv("YUMI_RWS_PASSWORD", PASSWORD)
    settings = RwsSettings(rws_address=server.url, rws_poll_interval=0.001)
    assert "robotics" not in repr(settings) and PASSWORD not in repr(settings)
    assert RwsBackend(settings, CONFIG, Gripper()).execute(PLAN).success


def test_rapid_not_running_is_refused_or_started(server, controller):
    controller.execution = "stopped"
    with pytest.raises(RwsError, match="RAPID is not running: start DexnetGrasp"):
        executor_for(server.url).execute(PLAN)
    assert executor_for(server.url, rws_start_rapid=True).execute(PLAN).success
    starts = [r for r in controller.requests if r.path == "/rw/rapid/execution?action=start"]
    assert starts and "cycle=forever" in starts[0].body


def test_motors_off_is_refused(server, controller):
    controller.ctrlstate = "guardstop"
    with pytest.raises(RwsError, match="controller state is 'guardstop'"):
        executor_for(server.url).execute(PLAN)


def test_rapid_error_names_the_waypoint(server, controller):
    controller.fail_command = 9  # the second command: approach
    with pytest.raises(RwsError, match="RAPID reported error 50050 at waypoint 'approach': Position outside reach"):
        executor_for(server.url).execute(PLAN)


def test_closed_jaws_mean_missed_and_later_loss_means_slipped(server, controller):
    controller.grip_width_mm = 0.0
    outcome = executor_for(server.url).execute(PLAN)
    assert not outcome.success and outcome.cause == "missed"
    assert outcome.phases[-1] == "close"
    controller.grip_width_mm, controller.drop_after_close = 35.0, True
    outcome = executor_for(server.url).execute(PLAN)
    assert not outcome.success and outcome.cause == "slipped"


def test_cancel_stops_between_waypoints(server, controller):
    phases = []
    outcome = executor_for(server.url).execute(PLAN, on_phase=phases.append, should_cancel=lambda: "close" in phases)
    assert outcome.cause == "canceled" and "before lift" in outcome.message
    assert controller.tasks["T_ROB_R"]["nDone"] == "10"  # pre_grasp, approach, close ran; nothing after


def test_a_hanging_command_times_out(server, controller):
    controller.hang = True
    start = time.monotonic()
    with pytest.raises(RwsError, match="waypoint 'pre_grasp' did not finish within 0 s"):
        executor_for(server.url, rws_motion_timeout=0.3).execute(PLAN)
    assert time.monotonic() - start < 2.0


def test_a_stopped_program_is_reported_while_waiting(server, controller, monkeypatch):
    monkeypatch.setattr("yumi_bridge.rws.STATE_CHECK_INTERVAL", 0.05)
    controller.hang = True
    executor = executor_for(server.url)
    executor.check_ready = lambda: None
    controller.execution = "stopped"  # e.g. an emergency stop after the command was sent
    with pytest.raises(RwsError, match="RAPID execution is 'stopped' while waiting for waypoint 'pre_grasp'"):
        executor.execute(PLAN)


def test_cancel_while_the_controller_does_not_answer_is_canceled_at_once(server, controller):
    # Issue 16 fault 5: a stalled request used to run into its timeout and end the goal as a robot error.
    executor = executor_for(server.url, rws_timeout=3.0)
    controller.stall = 2.5
    canceled_at = time.monotonic() + 0.3
    outcome = executor.execute(PLAN, should_cancel=lambda: time.monotonic() > canceled_at)
    assert outcome.cause == "canceled" and not outcome.success
    assert outcome.message == "canceled during the readiness check while the controller had not answered"
    assert time.monotonic() - canceled_at < 0.5
    controller.stall = 0.0
    assert executor.execute(PLAN).success  # the abandoned request does not block the next goal


def test_connection_loss_is_a_clear_error(server):
    executor = executor_for(server.url, rws_timeout=0.5)
    server.stop()
    start = time.monotonic()
    with pytest.raises(RwsConnectionError, match=r"no answer from the robot controller at http://127\.0\.0\.1"):
        executor.execute(PLAN)
    assert time.monotonic() - start < 2.0


@pytest.mark.parametrize("address", ["192.168.125.1", "ftp://robot", "http://user:pw@robot"])
def test_bad_addresses_are_rejected(address):
    with pytest.raises(ValueError, match="rws_address"):
        RwsSettings(rws_address=address)


def test_robotware_7_over_plain_http_is_refused_unless_allowed_then_warned_once():
    # Issue 16 fault 4: RobotWare 7's Basic credentials went over http:// in clear, with no refusal or warning.
    with pytest.raises(ValueError, match=r"http:// sends in clear .* set rws_allow_insecure_http: true"):
        RwsSettings(rws_address="http://192.168.125.1", rws_robotware=7)
    RwsSettings(rws_address="http://192.168.125.1", rws_robotware=6)  # digest: the password never travels
    server = FakeRwsServer(FakeController(robotware=7, password=PASSWORD))
    try:
        logger = ListLogger()
        backend = executor_for(server.url, robotware=7, logger=logger, rws_allow_insecure_http=True)
        assert backend.execute(PLAN).success
        warnings = [line for line in logger.lines if line.startswith("warning: rws_allow_insecure_http")]
        assert len(warnings) == 1 and "password goes in clear" in warnings[0] and PASSWORD not in warnings[0]
        assert len([line for line in logger.lines if "in clear" in line]) == 1  # once, not per request
    finally:
        server.stop()


def test_an_authentication_scheme_of_the_other_robotware_is_a_clear_error(server):
    with pytest.raises(RwsError, match="asks for Digest authentication: is rws_robotware right"):
        executor_for(server.url, robotware=7,
                     rws_allow_insecure_http=True).execute(PLAN)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a self-signed certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return str(cert), str(key)


def test_rw7_https_basic_auth_and_v2_paths(certificate):
    controller = FakeController(robotware=7, password=PASSWORD)
    server = FakeRwsServer(controller, *certificate)
    try:
        outcome = executor_for(server.url, robotware=7, rws_ca_file=certificate[0]).execute(PLAN)
        assert outcome.success
        requests = controller.requests
        assert requests[0].auth == "basic" and requests[0].status == 200  # credentials sent up front, no 401
        assert all(r.auth == "cookie" for r in requests[1:])
        assert [r.path for r in requests[:3]] == [
            "/rw/panel/ctrl-state",
            "/rw/rapid/execution",
            "/rw/rapid/symbol/RAPID/T_ROB_R/DexnetGrasp/nDone/data",
        ]
        writes = [r for r in requests if r.method == "POST"]
        assert writes[0].path == "/rw/rapid/symbol/RAPID/T_ROB_R/DexnetGrasp/rTarget/data?mastership=implicit"
        assert all(r.content_type == "application/x-www-form-urlencoded;v=2.0" for r in writes)
        # Self-signed: verification without the certificate fails, with a clear connection error.
        with pytest.raises(RwsConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
            executor_for(server.url, robotware=7, rws_verify_tls=True).execute(PLAN)
        assert executor_for(server.url, robotware=7).execute(PLAN).success  # verification off (the default)
    finally:
        server.stop()


def test_close_logs_out_only_after_a_session(server, controller):
    client = RwsClient(RwsSettings(rws_address=server.url, rws_password=PASSWORD))
    client.close()
    assert controller.requests == []
    assert client.execution_state() == "running"
    client.close()
    assert controller.requests[-1].path == "/logout"


def test_numbers_that_are_not_numbers_are_errors(server, controller):
    controller.tasks["T_ROB_R"]["nDone"] = "not-a-number"
    with pytest.raises(RwsError, match="T_ROB_R/nDone is 'not-a-number', not a number"):
        executor_for(server.url).execute(PLAN)
