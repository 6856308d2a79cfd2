"""The embedded Snowflake: a fakesnow server on loopback, reached by the real connector over HTTP.

One server runs per process, started on first use and kept until the process ends. The server
cannot run two statements of one session at once, so connections made here remember how to open
more sessions: the loader gives each worker its own.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import logging
import os
import shutil
import socket
import threading
import warnings
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from snowflake.connector import SnowflakeConnection

DATABASE = "SNOWLOAD"
SCHEMA = "PUBLIC"
NETWORK_TIMEOUT = 120
_QUIET = logging.CRITICAL + 1
_NOISY_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "fakesnow", "fakesnow.server")

SessionFactory = Callable[[], "SnowflakeConnection"]


def _cloud_probe_setting() -> dict[str, float]:
    """Turn off the connector's cloud platform probes where it has them (4.x).

    On every connect they ask the AWS, GCP and Azure metadata addresses who is running the client:
    pointless for a server on loopback, and measured here at about 65 ms and, on the first
    connect, 10 MB (botocore's endpoint tables). Older connectors neither probe nor know the name.
    """
    from snowflake.connector.connection import DEFAULT_CONFIGURATION

    name = "platform_detection_timeout_seconds"
    return {name: 0.0} if name in DEFAULT_CONFIGURATION else {}


class GaveUp(Exception):
    """Raised inside the connector's retry loop once the load stopped waiting for the statement."""


# Seconds between the connector's retries of a request to the embedded server: short enough that
# a statement the load gave up on ends within seconds, as the backoff is where it can be told.
_RETRY_SLEEPS = (1, 1, 2, 2, 3)


def _backoff_until(give_up: threading.Event) -> Callable[[], Iterator[int]]:
    """A `backoff_policy` for the connector that stops retrying once `give_up` is set."""

    def policy() -> Iterator[int]:
        for sleep in itertools.chain(_RETRY_SLEEPS, itertools.repeat(_RETRY_SLEEPS[-1])):
            if give_up.is_set():
                raise GaveUp("the load stopped waiting for this statement")
            yield sleep

    return policy


def _has_parameter(name: str) -> bool:
    from snowflake.connector.connection import DEFAULT_CONFIGURATION

    return name in DEFAULT_CONFIGURATION


class EmbeddedServerError(RuntimeError):
    """The embedded server could not be started or reached."""


class _EmbeddedServer:
    """A fakesnow server in a daemon thread, quiet and bound to 127.0.0.1."""

    def __init__(self, db_path: Path | None) -> None:
        self.db_path = db_path
        self.port = _free_port()
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        import fakesnow.server
        import uvicorn
        from fakesnow.instance import FakeSnow
        from fakesnow.transforms import stage

        from . import embedded_fixes

        embedded_fixes.apply()
        _silence_server_output()
        if self.db_path is not None:
            # One shared instance on the files: fakesnow's per-session db_path would open the same
            # DuckDB file twice and fail. Stage files live beside the data so that load history
            # (keyed by staged file URL) still matches in the next process.
            fakesnow.server.shared_fs = FakeSnow(db_path=self.db_path)
            stage.LOCAL_BUCKET_PATH = str(self.db_path / "stage_files")
            os.makedirs(stage.LOCAL_BUCKET_PATH, exist_ok=True)
        else:
            atexit.register(shutil.rmtree, stage.LOCAL_BUCKET_PATH, ignore_errors=True)

        config = uvicorn.Config(
            fakesnow.server.app,
            host="127.0.0.1",
            port=self.port,
            log_level="critical",
            access_log=False,
            log_config=None,
        )
        server = _announcing_server(uvicorn.Server)(config)
        self._server = server
        self._thread = threading.Thread(target=server.run, name="snowload-embedded-server", daemon=True)
        self._thread.start()
        # Either startup finishes or the thread dies trying (uvicorn exits on a bind error).
        while not server.ready.wait(0.05):
            if not self._thread.is_alive():
                raise EmbeddedServerError(f"the embedded Snowflake server did not start on port {self.port}")

    def stop(self) -> None:
        """Stop serving (tests use this to take the server away mid-load)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def connect_kwargs(self) -> dict[str, Any]:
        return {
            "user": "snowload",
            "password": "embedded",
            "account": "embedded",
            "host": "127.0.0.1",
            "port": self.port,
            "protocol": "http",
            "database": DATABASE,
            "schema": SCHEMA,
            "login_timeout": 10,
            # The connector retries a request that gets no answer until this runs out (forever if
            # unset): it bounds how long a load waits on a server that went away. A statement
            # running longer is cancelled too, so it is far above any one COPY here.
            "network_timeout": NETWORK_TIMEOUT,
            "session_parameters": {"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False},
            **_cloud_probe_setting(),
        }


_lock = threading.Lock()
_server: _EmbeddedServer | None = None
_session_factories: weakref.WeakKeyDictionary[Any, SessionFactory] = weakref.WeakKeyDictionary()
_give_up_events: weakref.WeakKeyDictionary[Any, threading.Event] = weakref.WeakKeyDictionary()


def embedded_server(db_path: str | os.PathLike[str] | None = None) -> _EmbeddedServer:
    """The process's embedded server, started on first use."""
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
        if wanted is not None:
            wanted.mkdir(parents=True, exist_ok=True)
        server = _EmbeddedServer(wanted)
        server.start()
        _server = server
        return server


def connect_local(db_path: str | os.PathLike[str] | None = None, **connect_kwargs: Any) -> SnowflakeConnection:
    """A real connector connection to the embedded server, with SNOWLOAD.PUBLIC current.

    `db_path` keeps the databases (and the load history) in that folder between runs; extra
    keyword arguments go to `snowflake.connector.connect`.
    """
    server = embedded_server(db_path)
    kwargs = server.connect_kwargs() | connect_kwargs

    def open_session() -> SnowflakeConnection:
        return embedded_session(kwargs)

    conn = open_session()
    _session_factories[conn] = open_session
    return conn


def embedded_session(kwargs: dict[str, Any]) -> SnowflakeConnection:
    """A connector session whose retries stop once a load gives up on it (see `give_up`)."""
    import snowflake.connector

    event = threading.Event()
    extra = {"backoff_policy": _backoff_until(event)} if _has_parameter("backoff_policy") else {}
    session = snowflake.connector.connect(**kwargs, **extra)
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


def _announcing_server(base: type) -> type:
    """uvicorn's Server, plus an event set once it listens."""

    class AnnouncingServer(base):  # type: ignore[misc,valid-type]
        def __init__(self, config: Any) -> None:
            super().__init__(config)
            self.ready = threading.Event()

        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            self.ready.set()

    return AnnouncingServer


def _free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _silence_server_output() -> None:
    for name in _NOISY_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(_QUIET)
        logger.propagate = False
    # fakesnow warns on every Arrow result it makes; that is its business, not the user's.
    warnings.filterwarnings("ignore", message="Arrow output on a DB-API result", category=UserWarning)
