"""Notice a dead server in seconds, not after the connector's retries run out.

Against a server that went away the connector retries each request until its network timeout
(minutes), and nothing outside can interrupt it. So while a statement has waited a while, one
thread tries a plain TCP connection to the server: a refusal means nobody listens any more, and
the load's outage breaker trips at once. The load then stops waiting for the stuck statements.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable


class ServerWatch:
    """One thread per load, probing only while some statement has been waiting `patience` s."""

    def __init__(
        self,
        address: tuple[str, int],
        busy_for: Callable[[], float],
        declare: Callable[[str], None],
        interval: float = 0.5,
        patience: float = 1.0,
    ) -> None:
        self.address = address
        self._busy_for = busy_for
        self._declare = declare
        self._interval = interval
        self._patience = patience
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="snowload-watch", daemon=True)

    def start(self) -> ServerWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            if self._busy_for() >= self._patience and refuses(self.address):
                host, port = self.address
                self._declare(f"{host}:{port} refuses connections")
                return


def refuses(address: tuple[str, int], timeout: float = 2.0) -> bool:
    """True only when the host answers that nothing listens on the port; a slow answer is no proof."""
    try:
        with contextlib.closing(socket.create_connection(address, timeout=timeout)):
            return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False


def server_address(conn: object) -> tuple[str, int] | None:
    """Where a connector connection sends its requests, if it says."""
    host, port = getattr(conn, "host", None), getattr(conn, "port", None)
    if isinstance(host, str) and host and isinstance(port, (int, str)) and str(port).isdigit():
        return host, int(port)
    return None
