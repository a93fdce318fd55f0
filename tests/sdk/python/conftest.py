"""Fixtures for the end-to-end tests that drive the gateway with the official `openai` SDK.

One session-wide stack: the mock provider (`switchboard-mock`) and the gateway
(`switchboard serve`) started from the workspace's `target/debug` on free loopback
ports, each awaited on its ready line, stopped with SIGTERM at the end.

Environment knobs (all optional):
  SWITCHBOARD_BIN_DIR      directory holding the two binaries (default: <repo>/target/debug)
  SWITCHBOARD_SDK_LOG_DIR  where the processes' output is written (default: <repo>/target/sdk/logs)
"""

from __future__ import annotations

import os
import tempfile
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest

REPO = Path(__file__).resolve().parents[3]
BIN_DIR = Path(os.environ.get("SWITCHBOARD_BIN_DIR") or REPO / "target" / "debug")
LOG_DIR = Path(os.environ.get("SWITCHBOARD_SDK_LOG_DIR") or REPO / "target" / "sdk" / "logs")

READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
# Per-request timeout of the SDK clients: a hung stream fails the test instead of the run.
CLIENT_TIMEOUT_S = 30.0

MOCK_MODEL = "gpt-4o-mini"
QUALIFIED_MODEL = f"mock/{MOCK_MODEL}"
VIRTUAL_MODEL = "fast"

_READY = re.compile(r"listening on (http://\S+)")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Variables that would make the gateway configure something beyond the test's config file:
# its own SWITCHBOARD_* settings (but its log filter and format, kept for debugging) and
# providers it detects from keys such as OPENAI_API_KEY.
_KEEP = ("SWITCHBOARD_LOG", "SWITCHBOARD_LOG_FORMAT")


def _leaks_config(name: str) -> bool:
    if name in _KEEP:
        return False
    return name.startswith("SWITCHBOARD_") or name.endswith(("_API_KEY", "_API_BASE", "_BASE_URL"))


# Each test session's gateway keeps its database and key file in a fresh directory.
_DATA_DIR = tempfile.mkdtemp(prefix="switchboard-sdk-")


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not _leaks_config(k)}
    env["SWITCHBOARD_DATA_DIR"] = _DATA_DIR
    env.setdefault("RUST_BACKTRACE", "1")
    env.setdefault("NO_COLOR", "1")  # plain logs in target/sdk/logs
    return env


def _die_with_parent() -> None:
    # Linux: the child gets SIGTERM if the test process dies without running its finalizers.
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def binary(name: str) -> Path:
    path = BIN_DIR / name
    if not path.is_file():
        pytest.fail(
            f"{path} not found: build the workspace binaries first (`cargo build --workspace --bins`, "
            "or run scripts/test which does)",
            pytrace=False,
        )
    return path


class Proc:
    """A child process whose stdout is awaited for a ready line, then drained into a log file."""

    def __init__(self, name: str, argv: list[str], ready_prefix: str, log_path: Path):
        self.name = name
        self.argv = argv
        self.ready_prefix = ready_prefix
        self.log_path = log_path
        self.url: str | None = None
        self._ready = threading.Event()
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(log_path, "w", encoding="utf-8", errors="replace")
        self._log.write(f"$ {' '.join(argv)}\n")
        self._log.flush()
        self._lock = threading.Lock()
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=child_env(),
            text=True,
            encoding="utf-8",
            errors="replace",
            bufsize=1,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        self._threads = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, "stdout", True), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, "stderr", False), daemon=True),
        ]
        for t in self._threads:
            t.start()

    def _pump(self, stream, label: str, watch: bool) -> None:
        for line in stream:
            with self._lock:
                self._log.write(f"[{label}] {line}")
                self._log.flush()
            if watch and not self._ready.is_set():
                text = line.strip()
                m = _READY.search(text)
                if text.startswith(self.ready_prefix) and m:
                    self.url = m.group(1).rstrip("/")
                    self._ready.set()

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> bool:
        """True when ready; False when the process exited first. Raises on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._ready.wait(0.05):
                return True
            if self.proc.poll() is not None:
                # Let the pumps finish so the log holds everything the process said.
                for t in self._threads:
                    t.join(1)
                return self._ready.is_set()
        self.stop()
        raise RuntimeError(
            f"{self.name} printed no line starting with {self.ready_prefix!r} within {timeout:.0f}s\n"
            f"{self.log_tail()}"
        )

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int | None:
        """SIGTERM, then SIGKILL after `timeout`. Returns the exit code (negative: killed by signal)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                with self._lock:
                    self._log.write(f"[harness] no exit {timeout:.0f}s after SIGTERM: killed\n")
        for t in self._threads:
            t.join(2)
        with self._lock:
            if not self._log.closed:
                self._log.write(f"[harness] exit code {self.proc.returncode}\n")
                self._log.close()
        return self.proc.returncode

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return f"(no log at {self.log_path})"
        return f"--- last lines of {self.log_path} ---\n" + "\n".join(text[-lines:])


def start(name: str, make_argv, ready_prefix: str, log_name: str, attempts: int = 3) -> Proc:
    """Start a process on a free port; retry on another port if it dies before its ready line
    (another process may have taken the port between our probe and its bind)."""
    last = None
    for _ in range(attempts):
        port = free_port()
        proc = Proc(name, make_argv(port), ready_prefix, LOG_DIR / log_name)
        if proc.wait_ready():
            expected = f"http://127.0.0.1:{port}"
            if proc.url != expected:
                proc.stop()
                raise RuntimeError(f"{name} announced {proc.url}, expected {expected}\n{proc.log_tail()}")
            return proc
        proc.stop()
        last = proc
    raise RuntimeError(f"{name} exited before it was ready ({attempts} attempts)\n{last.log_tail()}")


def gateway_config(mock_url: str) -> str:
    return f"""\
[providers.mock]
wire_format = "openai"
base_url = "{mock_url}/v1"
auth = "none"

[providers.mock.models."{MOCK_MODEL}"]
context_window = 128000

[models.{VIRTUAL_MODEL}]
target = "{QUALIFIED_MODEL}"
"""


def start_mock(log_name: str = "python-mock.log") -> Proc:
    mock_bin = binary("switchboard-mock")
    return start(
        "switchboard-mock",
        lambda port: [str(mock_bin), "--listen", f"127.0.0.1:{port}"],
        "listening on ",
        log_name,
    )


def start_gateway(config_path: Path, log_name: str = "python-gateway.log") -> Proc:
    gw_bin = binary("switchboard")
    return start(
        "switchboard serve",
        lambda port: [str(gw_bin), "serve", "--config", str(config_path), "--listen", f"127.0.0.1:{port}"],
        "switchboard listening on ",
        log_name,
    )


@dataclass
class Stack:
    mock: Proc
    gateway: Proc
    config_path: Path

    @property
    def mock_url(self) -> str:
        return self.mock.url

    @property
    def gateway_url(self) -> str:
        return self.gateway.url

    def logs(self) -> str:
        return f"{self.gateway.log_tail()}\n{self.mock.log_tail()}"


_STACK: Stack | None = None


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> Stack:
    mock = start_mock()
    try:
        config_path = tmp_path_factory.mktemp("gateway") / "switchboard.toml"
        config_path.write_text(gateway_config(mock.url), encoding="utf-8")
        gateway = start_gateway(config_path)
    except BaseException:
        mock.stop()
        raise
    global _STACK
    _STACK = Stack(mock=mock, gateway=gateway, config_path=config_path)
    yield _STACK
    _STACK = None
    gateway.stop()
    mock.stop()


class MockControl:
    """The mock provider's control routes."""

    def __init__(self, base_url: str):
        self._http = httpx.Client(base_url=base_url, timeout=10)

    def push(self, script: dict) -> None:
        r = self._http.post("/__mock/push", json=script)
        assert r.status_code < 300, f"POST /__mock/push -> {r.status_code} {r.text}"

    def set_default(self, script: dict) -> None:
        r = self._http.post("/__mock/default", json=script)
        assert r.status_code < 300, f"POST /__mock/default -> {r.status_code} {r.text}"

    def requests(self) -> list[dict]:
        """The recorded API requests: method, path, query, headers (lowercase names), body."""
        r = self._http.get("/__mock/requests")
        assert r.status_code == 200, f"GET /__mock/requests -> {r.status_code} {r.text}"
        return r.json()

    def calls(self) -> int:
        r = self._http.get("/__mock/calls")
        assert r.status_code == 200, f"GET /__mock/calls -> {r.status_code} {r.text}"
        return r.json()["calls"]

    def reset(self) -> None:
        r = self._http.post("/__mock/reset")
        assert r.status_code < 300, f"POST /__mock/reset -> {r.status_code} {r.text}"

    def close(self) -> None:
        self._http.close()


@pytest.fixture(scope="session")
def mock_control(stack: Stack):
    ctl = MockControl(stack.mock_url)
    yield ctl
    ctl.close()


@pytest.fixture(autouse=True)
def _reset_mock(request):
    # Every test that talks to the stack starts with no scripted replies and a zero call count.
    if "stack" in request.fixturenames:
        request.getfixturevalue("mock_control").reset()
    yield


@pytest.fixture
def client(stack: Stack) -> openai.OpenAI:
    # max_retries=0: a retry inside the SDK would hide what the gateway answered first.
    c = openai.OpenAI(
        base_url=f"{stack.gateway_url}/v1",
        api_key="test",
        max_retries=0,
        timeout=CLIENT_TIMEOUT_S,
    )
    yield c
    c.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # On a failure, append the tail of the gateway's and the mock's logs to the report.
    outcome = yield
    report = outcome.get_result()
    if report.failed and call.when == "call":
        if _STACK is not None and "stack" in getattr(item, "fixturenames", ()):
            report.sections.append(("switchboard logs", _STACK.logs()))
