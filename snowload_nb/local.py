"""The embedded Snowflake: a fakesnow server on loopback, reached by the real connector over HTTP.

The server runs as a child process (`snowload serve`), one per process, started on first use and
stopped when the process ends; if the process dies, the server follows (it watches the pipe we
hold). The server cannot run two statements of one session at once, so connections made here
remember how to open more sessions: the loader gives each worker its own.

This module imports neither fakesnow nor the connector at import time: `snowload --help` and
`import snowload_nb` stay fast.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import json
import os
import selectors
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from .errors import EmbeddedServerError, GaveUp

if TYPE_CHECKING:
    from snowflake.connector import SnowflakeConnection

DATABASE = "SNOWLOAD"
SCHEMA = "PUBLIC"
NETWORK_TIMEOUT = 120
STARTUP_TIMEOUT = 120  # seconds for the child to import fakesnow and listen, on a loaded machine
# A `snowload` executable from another environment to run `serve` with, when this one cannot
# (no `local` extra, e.g. beside connector 5.x, which fakesnow cannot import).
SERVE_ENV = "SNOWLOAD_SERVE"

SessionFactory = Callable[[], "SnowflakeConnection"]


def connect_kwargs(port: int) -> dict[str, Any]:
    """`snowflake.connector.connect()` arguments for the embedded server on `port`, for any client.

    What `snowload serve` prints. Client-specific settings (the cloud probes of 4.x) are added by
    `connect_local()` in the client's own environment.
    """
    return {
        "user": "snowload",
        "password": "embedded",
        "account": "embedded",
        "host": "127.0.0.1",
        "port": port,
        "protocol": "http",
        "database": DATABASE,
        "schema": SCHEMA,
        "login_timeout": 10,
        # The connector retries a request that gets no answer until this runs out (forever if
        # unset): it bounds how long a load waits on a server that went away. A statement
        # running longer is cancelled too, so it is far above any one COPY here.
        "network_timeout": NETWORK_TIMEOUT,
        "session_parameters": {"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False},
    }


def _cloud_probe_setting() -> dict[str, float]:
    """Turn off the connector's cloud platform probes where it has them (4.x).

    On every connect they ask the AWS, GCP and Azure metadata addresses who is running the client:
    pointless for a server on loopback, and measured here at about 65 ms and, on the first
    connect, 10 MB (botocore's endpoint tables). Connectors without them neither probe nor know the name.
    """
    try:
        from snowflake.connector.connection import DEFAULT_CONFIGURATION
    except ImportError:
        return {}
    name = "platform_detection_timeout_seconds"
    return {name: 0.0} if name in DEFAULT_CONFIGURATION else {}


def _for_this_connector(kwargs: dict[str, Any]) -> dict[str, Any]:
    """`kwargs` with what this environment's connector needs to be quiet against the embedded server."""
    import snowflake.connector

    kwargs = _cloud_probe_setting() | kwargs
    if int(snowflake.connector.__version__.split(".")[0]) >= 5:
        # 5.x warns on every connect that this default will change; logging out on close is
        # what a loopback server wants either way.
        kwargs.setdefault("enable_server_session_keep_alive_auto_detection", False)
        # 5.x warns at exit about every connection left open, as notebooks leave them; the
        # embedded server ends with the process, so there is no session left to close.
        kwargs.setdefault("auto_cleanup", False)
        # 5.x has no backoff hook to tell a statement the load gave up on it (`give_up`), and its
        # default backoff (up to 16 s a sleep) keeps a worker retrying a dead server ~10 s after
        # the load ended. Short sleeps on a loopback server end those retries within ~2 s.
        kwargs.setdefault("retry_backoff_cap_ms", 500)
        if "network_timeout" in kwargs:  # 5.x splits it in two and warns on the old name
            timeout = kwargs.pop("network_timeout")
            kwargs.setdefault("query_timeout", timeout)
            kwargs.setdefault("request_timeout", timeout)
    return kwargs


def serve_command() -> list[str]:
    """How to run `snowload serve`: from $SNOWLOAD_SERVE if set, else with this Python."""
    other = os.environ.get(SERVE_ENV)
    if other:
        return [other, "serve"]
    return [sys.executable, "-m", "snowload_nb.cli", "serve"]


def child_serve_command() -> list[str]:
    """`snowload serve` as a child of its client's process, as `connect_local()` runs it: it ends
    when its stdin closes, and clients of this machine may write its stage folders themselves."""
    return [*serve_command(), "--watch-stdin", "--stage-in-place"]


class _ServerProcess:
    """`snowload serve` as a child process, quiet, in a session of its own.

    Its own session keeps a terminal's Ctrl-C (sent to the whole foreground group) and a kernel
    interrupt from reaching it: they are for the load, which then still has its server.
    """

    def __init__(self, db_path: Path | None) -> None:
        self.db_path = db_path
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._errors: IO[bytes] | None = None
        self._ready_lock = threading.Lock()

    def start(self) -> None:
        self.spawn()
        self.wait_ready()

    def spawn(self) -> None:
        """Start the child and return at once: the caller can import the connector meanwhile."""
        command = child_serve_command()
        if self.db_path is not None:
            command += ["--local-db", str(self.db_path)]
        # Where the child's stderr goes: never the user's terminal or cell; read only if it fails.
        self._errors = tempfile.TemporaryFile()  # noqa: SIM115 (closed once the child answered)
        try:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._errors,
                start_new_session=True,
            )
        except OSError as exc:
            self._errors.close()
            raise EmbeddedServerError(f"cannot start the embedded server ({command[0]}): {exc}") from None

    def wait_ready(self) -> None:
        """Wait for the child's one line (its port), or say why it did not come."""
        with self._ready_lock:
            if self.port:
                return
            line = self._first_line()
            errors = self._errors
            assert errors is not None
            if line is None:
                self.stop()
                errors.seek(0)
                reason = _reason(errors.read().decode(errors="replace"))
                errors.close()
                raise EmbeddedServerError(reason)
            errors.close()  # the child keeps writing to its copy, which goes when it ends
            self.port = int(json.loads(line)["port"])

    def _first_line(self) -> str | None:
        process = self._process
        assert process is not None and process.stdout is not None
        data = b""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            while b"\n" not in data:
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(left):
                    return None
                chunk = os.read(process.stdout.fileno(), 65536)
                if not chunk:
                    return None
                data += chunk
        process.stdout.close()  # the server prints nothing more
        return data.split(b"\n", 1)[0].decode()

    def stop(self) -> None:
        """End the server: SIGTERM, so it shuts down cleanly and removes its temporary files."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(OSError):
                process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

    def release(self) -> None:
        """At exit: close the pipe, which tells the server to end and clean up, and see it go."""
        process = self._process
        if process is None:
            return
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.stop()

    def kill(self) -> None:
        """End the server at once, as a crash would (tests use it)."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def connect_kwargs(self) -> dict[str, Any]:
        return connect_kwargs(self.port)


def _reason(stderr: str) -> str:
    """The child's own one-line reason if it gave one, else why we think it failed."""
    for line in reversed(stderr.splitlines()):
        if line.startswith("snowload serve: "):
            return line.removeprefix("snowload serve: ")
    if "No module named 'fakesnow'" in stderr or "No module named 'uvicorn'" in stderr:
        return (
            "the embedded server needs fakesnow: pip install 'snowload_nb[local]' "
            f"(or set {SERVE_ENV} to the snowload command of an environment that has it)"
        )
    last = stderr.strip().splitlines()[-1:] or ["no output"]
    return f"the embedded Snowflake server did not start: {last[0]}"


# The old in-process server, for the benchmark that compares the two; False is the default.
IN_PROCESS = False

_EmbeddedServer = _ServerProcess  # the name tests and probes used before the server had its own process

_lock = threading.Lock()
_server: Any = None
_exit_registered: list[bool] = []
_session_factories: weakref.WeakKeyDictionary[Any, SessionFactory] = weakref.WeakKeyDictionary()


def embedded_server(db_path: str | os.PathLike[str] | None = None) -> Any:
    """The process's embedded server, started on first use and stopped when the process exits."""
    server = _starting_server(db_path)
    _ready(server)
    return server


def _ready(server: Any) -> None:
    """Wait until `server` answers; if it never will, forget it so that the next call tries again."""
    global _server
    if not isinstance(server, _ServerProcess):
        return
    try:
        server.wait_ready()
    except EmbeddedServerError:
        with _lock:
            if _server is server:
                _server = None
        raise


def _starting_server(db_path: str | os.PathLike[str] | None) -> Any:
    """The process's server, perhaps still starting."""
    global _server
    wanted = Path(db_path).expanduser().resolve() if db_path is not None else None
    with _lock:
        if _server is not None and _server.running:
            if wanted is not None and _server.db_path != wanted:
                where = _server.db_path or "memory"
                raise EmbeddedServerError(
                    f"the embedded server of this process already keeps its data in {where}; "
                    f"one process can serve one db_path (asked for {wanted})"
                )
            return _server
        if IN_PROCESS:
            from .server import ThreadServer

            server: Any = ThreadServer(wanted)
        else:
            server = _ServerProcess(wanted)
        if isinstance(server, _ServerProcess):
            server.spawn()
        else:
            server.start()
        if _server is None and not _exit_registered:
            atexit.register(_stop_at_exit)
            _exit_registered.append(True)
        _server = server
        return server


def _stop_at_exit() -> None:
    if isinstance(_server, _ServerProcess):
        _server.release()
    elif _server is not None:
        _server.stop()


def connect_local(db_path: str | os.PathLike[str] | None = None, **connect_kwargs: Any) -> SnowflakeConnection:
    """A real connector connection to the embedded server, with SNOWLOAD.PUBLIC current.

    `db_path` keeps the databases (and the load history) in that folder between runs; extra
    keyword arguments go to `snowflake.connector.connect`.
    """
    server = _starting_server(db_path)
    import snowflake.connector  # noqa: F401 - about a second, imported while the server starts beside us

    _ready(server)
    kwargs = server.connect_kwargs() | connect_kwargs
    open_session = SessionOpener(kwargs)
    conn = open_session()
    _session_factories[conn] = open_session
    return conn


# Seconds between the connector's retries of a request to the embedded server: short enough that
# a statement the load gave up on ends within seconds, as the backoff is where it can be told.
_RETRY_SLEEPS = (1, 1, 2, 2, 3)
_give_up_events: weakref.WeakKeyDictionary[Any, threading.Event] = weakref.WeakKeyDictionary()


def _backoff_until(give_up: threading.Event) -> Callable[[], Iterator[int]]:
    """A `backoff_policy` for the connector that stops retrying once `give_up` is set."""

    def policy() -> Iterator[int]:
        for sleep in itertools.chain(_RETRY_SLEEPS, itertools.repeat(_RETRY_SLEEPS[-1])):
            if give_up.is_set():
                raise GaveUp("the load stopped waiting for this statement")
            yield sleep

    return policy


class SessionOpener:
    """Opens sessions to the embedded server: `connect_local`'s factory for more of them.

    A plain class, so it pickles: Dask workers in other processes open their own sessions to the
    same server with it (`dask_load`). Its settings hold the password, so its repr never shows them.
    """

    def __init__(self, kwargs: dict[str, Any]) -> None:
        self._kwargs = dict(kwargs)

    def __call__(self) -> SnowflakeConnection:
        return embedded_session(self._kwargs)

    def __repr__(self) -> str:
        return "SessionOpener(<the embedded server's settings>)"


def embedded_session(kwargs: dict[str, Any]) -> SnowflakeConnection:
    """A session to an embedded server whose retries stop once a load gives up on it (`give_up`)."""
    import snowflake.connector
    from snowflake.connector.connection import DEFAULT_CONFIGURATION

    event = threading.Event()
    kwargs = _for_this_connector(kwargs)
    if "backoff_policy" in DEFAULT_CONFIGURATION:
        kwargs = kwargs | {"backoff_policy": _backoff_until(event)}
    session = snowflake.connector.connect(**kwargs)
    _give_up_events[session] = event
    return session


def give_up(session: object) -> None:
    """Make a session's statements stop retrying: the load no longer waits for them.

    A wrapper around a session says which one through `__wrapped__`, as functools' wrappers do.
    """
    for candidate in (session, getattr(session, "__wrapped__", None)):
        with contextlib.suppress(TypeError):  # not weak-referenceable: not one of ours
            event = _give_up_events.get(candidate)
            if event is not None:
                event.set()
                return


def session_factory(conn: object) -> SessionFactory | None:
    """How to open more sessions like `conn`, when it came from `connect_local`."""
    try:
        return _session_factories.get(conn)
    except TypeError:  # not weak-referenceable: not one of ours
        return None
