"""A TCP proxy on loopback that can go away and come back: a dead server, as a client sees it.
With `rate`, it is also a slow link: each direction drains through a token bucket of that many
bytes per second, shared by every connection, as an office uplink is.

`stop()` closes the listening socket and every open connection, so clients get resets and then
refusals, exactly as when the server process dies; the data behind it survives for a re-run
after `start()`. Loopback only, bounded: it serves until stopped.

Both of its sockets send at once (TCP_NODELAY), as the client's and the server's own do: a relay
that held back small writes until the last was acknowledged would add a delayed ACK (40 ms on
Linux) to every request, ten times the statement itself, which no link's bandwidth explains.
With `latency`, each byte also arrives that many seconds after the link sent it, each way (a
round trip is twice it), as over a distance; without, the link has no latency of its own.

It connects to the server from `FROM_HOST`, another loopback address: the server sees a client on
another host, which it does not let write its stage folders itself (`same_host_stage`), so every
PUT's bytes cross the proxy as they cross a network.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
import time
from typing import ClassVar

FROM_HOST = "127.0.0.2"  # Linux answers on all of 127/8


class TokenBucket:
    """`rate` bytes per second on average, with bursts of at most `burst` bytes; thread-safe.

    A sender reserves its bytes at once (the balance may go negative) and then sleeps off its
    debt, so senders are served in turn and together never exceed the rate.
    """

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else max(rate * 0.02, 1 << 16)
        self._tokens = self.burst
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def take(self, nbytes: int) -> None:
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate) - nbytes
            self._last = now
            debt = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if debt > 0:
            time.sleep(debt)  # the link's pace, not a synchronisation


class TcpProxy:
    _used: ClassVar[set[int]] = set()  # ports the proxies of this process have listened on

    def __init__(
        self, target_port: int, host: str = "127.0.0.1", rate: float | None = None, latency: float = 0.0
    ) -> None:
        self.host = host
        self.target_port = target_port
        self.port = 0
        # bytes per second each way; None: as fast as loopback
        self._buckets = (TokenBucket(rate), TokenBucket(rate)) if rate else None
        self._latency = latency  # seconds each way
        self.sent = [0, 0]  # bytes passed on: client to server, server to client
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> TcpProxy:
        if self._listener is not None:  # serving already
            return self
        listener = self._bound()
        listener.listen(64)
        self.port = listener.getsockname()[1]
        TcpProxy._used.add(self.port)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), name="proxy-accept", daemon=True).start()
        return self

    def _bound(self) -> socket.socket:
        """A listener on this proxy's port after a stop; else on a port no proxy of this process
        had: a new proxy is a new link, and snowload_nb remembers links by address."""
        while True:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self.host, self.port))
            if self.port or listener.getsockname()[1] not in TcpProxy._used:
                return listener
            listener.close()

    def stop(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = self._sockets, set()
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # stopped
            try:
                upstream = socket.create_connection((self.host, self.target_port), source_address=(FROM_HOST, 0))
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self._sockets.update((client, upstream))
            for sock in (client, upstream):
                with contextlib.suppress(OSError):  # a stop() may have closed it already
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for way, (source, sink) in enumerate(((client, upstream), (upstream, client))):
                bucket = self._buckets[way] if self._buckets else None
                threading.Thread(
                    target=self._pipe, args=(source, sink, bucket, way), name="proxy-pipe", daemon=True
                ).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, bucket: TokenBucket | None, way: int) -> None:
        arriving: queue.SimpleQueue[tuple[float, bytes] | None] = queue.SimpleQueue()
        carrier = None
        if self._latency:
            carrier = threading.Thread(target=self._carry, args=(arriving, sink, way), name="proxy-wire", daemon=True)
            carrier.start()
        try:
            while data := source.recv(1 << 16):
                if bucket is not None:
                    bucket.take(len(data))
                if carrier is None:
                    self._deliver(sink, data, way)
                else:
                    arriving.put((time.monotonic() + self._latency, data))
        except OSError:
            pass
        finally:
            if carrier is not None:  # what is on the wire still arrives before the close
                arriving.put(None)
                carrier.join()
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            with self._lock:  # each socket is the source of one pipe: that pipe closes it
                self._sockets.discard(source)
            source.close()

    def _carry(self, arriving: queue.SimpleQueue[tuple[float, bytes] | None], sink: socket.socket, way: int) -> None:
        """Hand each piece on once its latency has passed, in the order it was sent."""
        with contextlib.suppress(OSError):
            while (piece := arriving.get()) is not None:
                due, data = piece
                if (wait := due - time.monotonic()) > 0:
                    time.sleep(wait)  # the distance the link covers, not a synchronisation
                self._deliver(sink, data, way)

    def _deliver(self, sink: socket.socket, data: bytes, way: int) -> None:
        sink.sendall(data)
        with self._lock:
            self.sent[way] += len(data)
