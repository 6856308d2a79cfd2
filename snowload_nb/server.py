"""The embedded Snowflake server itself: fakesnow's app behind our own quiet uvicorn on loopback.

`snowload serve` runs it in the foreground, and `connect_local()` runs that command as a child
process, so the server's Python work never shares the notebook's GIL and a crash of it cannot take
the kernel down. Only this module imports fakesnow; it needs an environment with connector < 5
(the `local` extra), while its clients may use any connector.

On top of fakesnow, it answers what connector 5.x (the Rust core) insists on and 4.x ignores:
a master token and validities at login, a region in the stage info of a PUT, a presigned URL
that names the headers of a conditional upload, "not found" for the existence check before an
upload, and a route for client telemetry; and it sends NULL timestamps as NULLs, which 5.x
otherwise rejects. A client of this machine may write its stage folders itself (`same_host_stage`).
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import sys
import threading
import warnings
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from pathlib import Path
from typing import IO, Any

from . import embedded_fixes, same_host_stage
from .errors import FolderInUse
from .local import DATABASE, SCHEMA, EmbeddedServerError, connect_kwargs

_QUIET = logging.CRITICAL + 1
_NOISY_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "fakesnow", "fakesnow.server")
LOCK_NAME = ".snowload-server.lock"
LOGIN_PATH = "/session/v1/login-request"
QUERY_PATH = "/queries/v1/query-request"
BUCKET_PATH = "/fs_bucket/"
TELEMETRY_PATH = "/telemetry/send"
# Connector 5.x checks that a GCS presigned URL signs every header of its conditional upload.
SIGNED_HEADERS = "host;x-goog-if-generation-match;x-goog-meta-sfc-digest;x-goog-meta-encryptiondata;x-goog-meta-matdesc"
# Connector 5.x renews a session when its token expires, through a route the server lacks: the
# embedded server's tokens outlive any notebook session instead.
TOKEN_VALIDITY_SECONDS = 10 * 365 * 24 * 3600

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]


class Connector5Answers:
    """ASGI middleware completing fakesnow's login and PUT answers the way connector 5.x needs.

    It only adds what is missing, so connector 4.x (which ignores these fields) sees no change.
    """

    def __init__(self, app: Asgi) -> None:
        self.app = app
        self._session_ids = itertools.count(1)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path")
        if scope["type"] == "http" and scope.get("method") in ("GET", "HEAD") and str(path).startswith(BUCKET_PATH):
            # 5.x asks whether a staged file exists before a conditional upload; fakesnow has no such
            # route (405, which 5.x logs as a warning). The server keeps no object metadata to
            # compare, so it says "not found" and the client uploads, as it did after the 405.
            await send({"type": "http.response.start", "status": 404, "headers": [(b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return
        if scope["type"] == "http" and path == TELEMETRY_PATH:
            # Clients report their own telemetry here; fakesnow has no such route, and 5.x logs
            # a warning for every batch it cannot deliver. Taken, and dropped.
            while (await receive()).get("more_body"):
                pass
            body = b'{"success": true, "data": null}'
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        if scope["type"] != "http" or path not in (LOGIN_PATH, QUERY_PATH):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def amend_and_send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = self._amend(path, b"".join(chunks))
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, amend_and_send)

    def _amend(self, path: str, body: bytes) -> bytes:
        try:
            answer = json.loads(body)
        except ValueError:
            return body
        data = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(data, dict) or not answer.get("success"):
            return body
        if path == LOGIN_PATH and "token" in data:
            data.setdefault("masterToken", secrets.token_urlsafe(32))
            data.setdefault("validityInSeconds", TOKEN_VALIDITY_SECONDS)
            data.setdefault("masterValidityInSeconds", TOKEN_VALIDITY_SECONDS)
            data.setdefault("sessionId", next(self._session_ids))
        elif path == QUERY_PATH and isinstance(stage := data.get("stageInfo"), dict):
            if stage.get("locationType") == "GCS":
                stage.setdefault("region", "local")
                url = stage.get("presignedUrl")
                if isinstance(url, str) and "X-Goog-SignedHeaders=" not in url:
                    stage["presignedUrl"] = f"{url}{'&' if '?' in url else '?'}X-Goog-SignedHeaders={SIGNED_HEADERS}"
        else:
            return body
        return json.dumps(answer).encode()


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """Hold `folder` for this process, or say which process holds it.

    DuckDB refuses a second writer too, but only once a client connects, with a message about a
    file lock that names no folder; this says it before anything starts.
    """
    try:
        import fcntl
    except ImportError:  # Windows: DuckDB's own lock is all there is
        yield
        return
    lock_path = folder / LOCK_NAME
    with open(lock_path, "a+") as lock:
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            lock.seek(0)
            holder = lock.read().strip()
            who = f"another process (pid {holder})" if holder.isdigit() else "another process"
            raise FolderInUse(
                f"the local_db folder {folder} is in use by {who}: close its connections "
                "or stop it, or use another folder"
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        try:
            yield
        finally:
            lock.seek(0)
            lock.truncate()


@contextlib.contextmanager
def fakesnow_app(db_path: Path | None, stage_in_place: bool = False) -> Iterator[Asgi]:
    """fakesnow's app set up for `db_path` (memory when None), its stage files removed after if
    temporary; with `stage_in_place`, clients on this machine write the stage folders themselves."""
    with contextlib.ExitStack() as stack:
        if db_path is not None:
            db_path.mkdir(parents=True, exist_ok=True)
            stack.enter_context(_folder_lock(db_path))
        import fakesnow.server
        from fakesnow.instance import FakeSnow
        from fakesnow.transforms import stage

        _silence_server_output()  # after the import: fakesnow sets its logger's level there
        embedded_fixes.apply()
        same_host_stage.apply(stage_in_place)

        temporary_bucket = stage.LOCAL_BUCKET_PATH  # made by fakesnow at import
        if db_path is not None:
            # One shared instance on the files: fakesnow's per-session db_path would open the same
            # DuckDB file twice and fail. Stage files live beside the data so that load history
            # (keyed by staged file URL) still matches in the next process.
            fakesnow.server.shared_fs = FakeSnow(db_path=db_path)
            stack.callback(fakesnow.server.shared_fs.duck_conn.close)  # its files complete on disk
            stage.LOCAL_BUCKET_PATH = str(db_path / "stage_files")
            os.makedirs(stage.LOCAL_BUCKET_PATH, exist_ok=True)
        stack.callback(shutil.rmtree, temporary_bucket, ignore_errors=True)
        if not getattr(fakesnow.server.to_sf, "snowload_nulls", False):
            fakesnow.server.to_sf = _null_timestamps_as_nulls(fakesnow.server.to_sf)
        yield Connector5Answers(fakesnow.server.app)


def _null_timestamps_as_nulls(to_sf: Callable[..., Any]) -> Callable[..., Any]:
    """fakesnow's Arrow results with a NULL timestamp marked NULL on the struct Snowflake sends.

    fakesnow leaves the NULL in the struct's `epoch` child, a field declared non-nullable:
    connector 4.x reads it as 1970-01-01, 5.x rejects the whole result ("unmasked nulls for
    non-nullable StructArray field"). Snowflake's own answer is a NULL struct.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    def converted(table: Any, rowtype: Any) -> Any:
        result = to_sf(table, rowtype)
        columns = []
        for column in result.columns:
            if pa.types.is_struct(column.type) and column.num_chunks:
                struct = column.combine_chunks()
                children = [struct.field(i) for i in range(struct.type.num_fields)]
                if children and children[0].null_count:
                    column = pa.StructArray.from_arrays(
                        [pc.fill_null(child, 0) for child in children],
                        fields=list(struct.type),
                        mask=children[0].is_null(),
                    )
            columns.append(column)
        return pa.Table.from_arrays(columns, schema=result.schema)

    converted.snowload_nulls = True  # type: ignore[attr-defined]
    return converted


def listening_socket(port: int = 0) -> socket.socket:
    """A socket bound on loopback before the server starts, so the port is known and cannot be taken."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise EmbeddedServerError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from None
    return sock


def uvicorn_server(app: Asgi, on_ready: Callable[[], None]) -> Any:
    """A quiet uvicorn server that calls `on_ready` once it listens and leaves signals to the caller."""
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if not self.should_exit:
                on_ready()

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            # uvicorn would re-raise SIGTERM after shutting down: the exit status would say killed.
            yield

    config = uvicorn.Config(
        app,
        log_level="critical",
        access_log=False,
        log_config=None,
        lifespan="off",
        timeout_graceful_shutdown=2,  # clients keep connections open; do not wait on them for long
    )
    return Server(config)


class ThreadServer:
    """The server in a daemon thread of this process: what `connect_local()` did before it ran the
    server as a child process, kept for the benchmark that compares the two."""

    def __init__(self, db_path: Path | None = None) -> None:
        self.db_path = db_path
        self._stack = contextlib.ExitStack()
        self._thread: threading.Thread | None = None
        self._server: Any = None
        self.port = 0

    def start(self) -> None:
        app = self._stack.enter_context(fakesnow_app(self.db_path, stage_in_place=True))  # in this very process
        sock = listening_socket()
        self.port = sock.getsockname()[1]
        ready = threading.Event()
        self._server = uvicorn_server(app, ready.set)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="snowload-embedded-server", daemon=True
        )
        self._thread.start()
        while not ready.wait(0.05):
            if not self._thread.is_alive():
                raise EmbeddedServerError("the embedded Snowflake server did not start")

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join()
        self._stack.close()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def connect_kwargs(self) -> dict[str, Any]:
        return connect_kwargs(self.port)


def serve(
    port: int = 0,
    db_path: str | None = None,
    watch_stdin: bool = False,
    out: IO[str] | None = None,
    stage_in_place: bool = False,
) -> int:
    """Serve in the foreground: one JSON line of connect arguments on stdout, then silence until
    SIGINT or SIGTERM (or, with `watch_stdin`, until stdin closes: the parent went away)."""
    out = out or sys.stdout
    folder = Path(db_path).expanduser().resolve() if db_path is not None else None
    stop = _Stop()  # listening from the start: a SIGTERM while fakesnow imports still cleans up
    signal.signal(signal.SIGTERM, stop.on_signal)
    signal.signal(signal.SIGINT, stop.on_signal)
    if watch_stdin:
        threading.Thread(target=_exit_when_stdin_closes, args=(stop,), daemon=True).start()
    try:
        with fakesnow_app(folder, stage_in_place) as app:
            sock = listening_socket(port)
            bound = sock.getsockname()[1]

            def announce() -> None:
                out.write(json.dumps(connect_kwargs(bound)) + "\n")
                out.flush()
                _stdout_to_devnull()

            stop.server = uvicorn_server(app, announce)
            if not stop.requested:
                stop.server.run(sockets=[sock])
            sock.close()
    except EmbeddedServerError as exc:
        print(f"snowload serve: {exc}", file=sys.stderr)
        return 1
    except ImportError as exc:
        print(
            f"snowload serve: the embedded server needs fakesnow ({exc}): pip install 'snowload_nb[local]' "
            "in an environment with connector < 5, and run its snowload serve "
            "(connect_local() does, given SNOWLOAD_SERVE=that environment's snowload)",
            file=sys.stderr,
        )
        return 1
    if watch_stdin:
        # connect_local()'s child, cleaned up above: tearing down the interpreter's modules (pandas,
        # DuckDB, the connector) would only keep the exiting notebook or script waiting.
        sys.stderr.flush()
        os._exit(0)
    return 0


class _Stop:
    """Why and when to stop, from a signal or a closed stdin, whether or not the server runs yet."""

    def __init__(self) -> None:
        self.requested = False
        self.server: Any = None

    def request(self) -> None:
        self.requested = True
        if self.server is not None:
            self.server.should_exit = True

    def on_signal(self, signum: int, frame: Any) -> None:
        if self.requested and signum == signal.SIGINT and self.server is not None:
            self.server.force_exit = True  # a second Ctrl-C: do not wait for open connections
        self.request()


def _exit_when_stdin_closes(stop: _Stop) -> None:
    """The parent holds our stdin's other end: when it dies, even by SIGKILL, the pipe closes.

    Unlike PR_SET_PDEATHSIG (fired when the parent *thread* that started us ends), this follows the
    parent process, and works beyond Linux.
    """
    with contextlib.suppress(Exception):
        while os.read(sys.stdin.fileno(), 4096):
            pass
    stop.request()


def _stdout_to_devnull() -> None:
    """After the one line, nothing else may reach stdout, whatever a library prints."""
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)


def _silence_server_output() -> None:
    for name in _NOISY_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(_QUIET)
        logger.propagate = False
    # fakesnow warns on every Arrow result it makes; that is its business, not the user's.
    warnings.filterwarnings("ignore", message="Arrow output on a DB-API result", category=UserWarning)


__all__ = ["DATABASE", "SCHEMA", "Connector5Answers", "FolderInUse", "ThreadServer", "serve"]
