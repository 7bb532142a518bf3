"""A TCP forwarder a test can cut: the database or a service becomes unreachable for real
(connections refused, open ones dropped), with no mock in between."""

from __future__ import annotations

import contextlib
import socket
import threading


class TcpProxy:
    """Forward ``127.0.0.1:<port>`` to ``target``; :meth:`cut` drops every connection and
    refuses new ones, :meth:`restore` listens again on the same port.

    ``drop_answers`` (a request-line prefix, and how many): the first that many connections
    whose request starts so are forwarded, but the server's answer never reaches the client
    — its connection is closed instead (a response lost on the way back)."""

    def __init__(self, target: tuple[str, int], drop_answers: tuple[bytes, int] = (b"", 0)) -> None:
        self.target = target
        self.drop_prefix, self.to_drop = drop_answers
        self.dropped = 0
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self.port = 0

    def start(self) -> TcpProxy:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            threading.Thread(target=self._relay, args=(client, upstream), daemon=True).start()

    def _relay(self, client: socket.socket, upstream: socket.socket) -> None:
        first = b""
        with contextlib.suppress(OSError):
            first = client.recv(65536)
        drop = False
        with self._lock:
            if self.to_drop and self.drop_prefix and first.startswith(self.drop_prefix):
                self.to_drop -= 1
                drop = True
        with contextlib.suppress(OSError):
            upstream.sendall(first)
        threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
        if not drop:
            self._pump(upstream, client)
            return
        with contextlib.suppress(OSError):  # the server answers; the client never hears it
            while upstream.recv(65536):
                pass
        with self._lock:
            self.dropped += 1
        for s in (client, upstream):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for s in (source, sink):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        if self._listener is not None:
            # shutdown first: a thread blocked in accept() keeps a closed listener listening
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            conns, self._conns = self._conns, []
        for s in conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def restore(self) -> None:
        self.start()
