"""Fixtures for the signalrcore interop suite.

`server` spawns the Rust interop server once per session; `connect` builds signalrcore
connections (sync, thread-based API) and stops them after each test. `transport` parametrizes
every test that uses it over WebSockets, Server-Sent Events and Long Polling: test ids end with
`[WebSockets]`, `[ServerSentEvents]` or `[LongPolling]`.

A test that cannot pass on a transport because of a signalrcore bug is marked
`@pytest.mark.client_bug("LongPolling", reason="...")` and skipped there with that reason.

Environment:
  INTEROP_SERVER_BIN   server binary (relative paths are taken from e2e/python);
                       default ../../target/debug/examples/interop_server
  INTEROP_SERVER_LOG=1 echo the server's output to stderr
  INTEROP_TRANSPORTS   comma list from WebSockets,ServerSentEvents,LongPolling (default: all)
"""

import collections
import itertools
import os
import re
import subprocess
import sys
import threading
import uuid

import pytest
from signalrcore.hub_connection_builder import HubConnectionBuilder
from signalrcore.types import HttpTransportType

SUITE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVER_BIN = os.path.normpath(
    os.path.join(
        SUITE_DIR,
        os.environ.get("INTEROP_SERVER_BIN")
        or "../../target/debug/examples/interop_server",
    )
)
TRANSPORTS = {
    "WebSockets": HttpTransportType.web_sockets,
    "ServerSentEvents": HttpTransportType.server_sent_events,
    "LongPolling": HttpTransportType.long_polling,
}
SELECTED_TRANSPORTS = [
    name.strip()
    for name in (os.environ.get("INTEROP_TRANSPORTS") or ",".join(TRANSPORTS)).split(",")
    if name.strip()
]
for _name in SELECTED_TRANSPORTS:
    if _name not in TRANSPORTS:
        raise ValueError(f"unknown transport {_name} in INTEROP_TRANSPORTS")
STARTUP_TIMEOUT_S = 20
WAIT_S = 10
LISTENING = re.compile(r"^listening on (http://127\.0\.0\.1:(\d+))\s*$")


class Server:
    """A running interop server process."""

    def __init__(self, args):
        if not os.path.exists(SERVER_BIN):
            raise RuntimeError(
                f"interop server binary not found at {SERVER_BIN}; build it with "
                "`cargo build -p signalr-hub --example interop_server` or set INTEROP_SERVER_BIN"
            )
        self.log = collections.deque(maxlen=60)
        self.forward = os.environ.get("INTEROP_SERVER_LOG") == "1"
        env = {"RUST_LOG": "info", **os.environ}
        self.proc = subprocess.Popen(
            [SERVER_BIN, "--addr", "127.0.0.1:0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            env=env,
        )
        self.origin = None
        ready = threading.Event()

        def pump(stream, name):
            for line in stream:
                line = line.rstrip("\n")
                self.log.append(f"[{name}] {line}")
                if self.forward:
                    print(f"[server {name}] {line}", file=sys.stderr)
                match = LISTENING.match(line) if name == "out" else None
                if match and self.origin is None:
                    self.origin = match.group(1)
                    ready.set()
            ready.set()  # stream closed: the process is gone

        for stream, name in ((self.proc.stdout, "out"), (self.proc.stderr, "err")):
            threading.Thread(target=pump, args=(stream, name), daemon=True).start()

        if not ready.wait(STARTUP_TIMEOUT_S) or self.origin is None:
            self.proc.kill()
            raise RuntimeError(
                "the interop server did not print `listening on http://127.0.0.1:PORT`\n"
                + self.log_tail()
            )

    def url(self, path):
        return self.origin + path

    def log_tail(self):
        return "server output (last lines):\n  " + "\n  ".join(self.log)

    def stop(self):
        crashed = self.proc.poll()
        if crashed is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return crashed


@pytest.fixture(scope="session")
def server():
    # A short keep-alive makes signalrcore's stop() return quickly: its receive thread only notices
    # the close on the next frame from the server.
    srv = Server(["--keep-alive-ms", "1000"])
    yield srv
    crashed = srv.stop()
    if crashed is not None:
        pytest.fail(f"the server died during the tests with code {crashed}\n{srv.log_tail()}")


class Connection:
    """A started signalrcore connection with blocking helpers bounded in time."""

    _ids = itertools.count()

    def __init__(self, hub):
        self.hub = hub
        self.opened = threading.Event()
        self.closed = threading.Event()
        self.errors = []
        self._pending = {}
        hub.on_open(self.opened.set)
        hub.on_close(self.closed.set)
        hub.on_error(self._on_error)

    def _on_error(self, message):
        self.errors.append(message)
        waiter = self._pending.get(getattr(message, "invocation_id", None))
        if waiter is not None:
            waiter[1].append(message)
            waiter[0].set()

    def invoke(self, method, arguments, timeout=WAIT_S):
        """Invokes `method` and returns its CompletionMessage (with .result or .error)."""
        invocation_id = f"{uuid.uuid4()}-{next(self._ids)}"
        done = threading.Event()
        box = []
        self._pending[invocation_id] = (done, box)

        def on_completion(message):
            box.append(message)
            done.set()

        try:
            self.hub.invoke(method, arguments, on_invocation=on_completion, invocation_id=invocation_id)
            assert done.wait(timeout), f"no Completion for {method}{tuple(arguments)} within {timeout} s"
            return box[0]
        finally:
            self._pending.pop(invocation_id, None)

    def stop(self):
        # signalrcore's stop() joins its receive thread; never let that hang the suite.
        worker = threading.Thread(target=self.hub.stop, daemon=True)
        worker.start()
        worker.join(5)


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "client_bug(transport, reason): skip on that transport because of a signalrcore bug",
    )


@pytest.fixture(params=SELECTED_TRANSPORTS)
def transport(request):
    """The transport name of this test instance (the test id ends with it)."""
    for marker in request.node.iter_markers("client_bug"):
        if marker.args[0] == request.param:
            pytest.skip(
                f"{request.node.name}: signalrcore 1.0.2 bug on {request.param}: "
                f"{marker.kwargs['reason']}"
            )
    return request.param


@pytest.fixture
def connect(server, transport):
    """Factory: connect(hub="/hub", token=None, handlers=None) -> a started Connection over
    this test's transport."""
    made = []

    def factory(hub="/hub", token=None, handlers=None):
        options = {"transport": TRANSPORTS[transport]}
        if token is not None:
            options["access_token_factory"] = lambda: token
        hub_connection = HubConnectionBuilder().with_url(server.url(hub), options=options).build()
        conn = Connection(hub_connection)
        for name, callback in (handlers or {}).items():
            hub_connection.on(name, callback)
        made.append(conn)
        hub_connection.start()
        assert conn.opened.wait(WAIT_S), f"connection to {hub} did not open within {WAIT_S} s"
        return conn

    yield factory
    for conn in made:
        conn.stop()
