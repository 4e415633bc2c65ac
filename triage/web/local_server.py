"""A loopback HTTP server for the dashboard: adapts HTTP to a ``Callable[[WebRequest], WebResponse]``.

Used by ``triage dashboard`` and the browser test. It binds 127.0.0.1 unless told otherwise and
serves each request in a thread (the stores are thread-safe).
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self
from urllib.parse import parse_qsl, urlsplit

from triage.web.http import WebRequest, WebResponse

log = logging.getLogger(__name__)
Handler = Callable[[WebRequest], WebResponse]
MAX_BODY = 1024 * 1024
SOCKET_TIMEOUT = 10.0  # seconds any one read of a request may wait
BODY_SECONDS = 30.0  # and the whole body may take
LINGER_BYTES = 1024 * 1024  # what is read and dropped after refusing a body, before closing


def router(routes: Mapping[tuple[str, str], Handler]) -> Handler:
    """A handler dispatching on (method, path): 404 for an unknown path, 405 for a known path and other method."""

    def route(request: WebRequest) -> WebResponse:
        handler = routes.get((request.method, request.path))
        if handler is not None:
            return handler(request)
        if any(path == request.path for _, path in routes):
            return _plain(405, "method not allowed")
        return _plain(404, "not found")

    return route


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # the listen backlog (5 by default): a burst of connections is queued, not dropped
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that went away is routine (debug log); anything else is logged, never printed to stderr."""
        error = sys.exc_info()[1]
        if isinstance(error, OSError):
            log.debug("connection from %s ended: %s", client_address, error)
        else:
            log.exception("request from %s failed", client_address)


class LocalServer:
    """``handler`` served over HTTP on ``host:port`` (port 0: any free port) in a background thread."""

    def __init__(self, handler: Handler, host: str = "127.0.0.1", port: int = 0, *,
                 timeout: float = SOCKET_TIMEOUT, body_seconds: float = BODY_SECONDS) -> None:
        self._server = _Server((host, port), _request_handler(handler, timeout, body_seconds))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://host:port`` of the running server."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Self:
        """Serve in a background thread; returns self."""
        self._thread = threading.Thread(target=self._server.serve_forever, name="triage-localweb", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted."""
        self._server.serve_forever()

    def close(self) -> None:
        """Stop serving and release the port."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=10)
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def _request_handler(handler: Handler, socket_timeout: float, body_seconds: float) -> type[BaseHTTPRequestHandler]:
    class RequestHandler(BaseHTTPRequestHandler):
        server_version = "triage-localweb"
        protocol_version = "HTTP/1.1"
        default_request_version = "HTTP/1.0"  # errors before the version is known get a status line, not HTTP/0.9
        timeout = socket_timeout  # applied to the socket by StreamRequestHandler.setup: no read waits forever

        def do_GET(self) -> None:  # noqa: N802 - the http.server naming
            self._handle()

        def do_POST(self) -> None:  # noqa: N802
            self._handle()

        def _handle(self) -> None:
            body = self._body()
            if isinstance(body, WebResponse):
                self.close_connection = True  # what is left of the body must not be read as the next request
                self._send(body)
                self._linger()
                return
            target = _target(self.path)
            if target is None:
                self.close_connection = True
                self._send(_plain(400, "bad request target"))
                return
            path, query = target
            request = WebRequest(method=self.command, path=path, query=dict(parse_qsl(query)),
                                 headers=dict(self.headers.items()), body=body, scheme="http",
                                 client=str(self.client_address[0]))
            try:
                response = handler(request)
            except Exception:  # noqa: BLE001 - answer 500 and keep serving; the traceback goes to the log
                log.exception("dashboard request %s %s failed", self.command, path)
                response = _plain(500, "internal error (see the server log)")
            self._send(response)

        def _body(self) -> bytes | WebResponse:
            """The request body, or the response refusing it (400, 408, 411, 413)."""
            lengths = self.headers.get_all("Content-Length") or []
            if self.headers.get("Transfer-Encoding"):
                return _plain(411 if not lengths else 400, "chunked bodies are not accepted: send Content-Length")
            if not lengths:
                return _plain(411, "a POST needs a Content-Length") if self.command == "POST" else b""
            if len(set(lengths)) != 1 or not _is_length(lengths[0]):
                return _plain(400, "Content-Length must be one whole number of bytes")
            length = int(lengths[0])
            if length > MAX_BODY:
                return _plain(413, f"request body too large (at most {MAX_BODY} bytes)")
            chunks, deadline, slow = [], time.monotonic() + body_seconds, False
            while length:
                try:
                    chunk = self.rfile.read1(min(length, 65536))
                except TimeoutError:
                    chunk, slow = b"", True
                except OSError:  # the client reset the connection
                    chunk = b""
                slow = slow or time.monotonic() > deadline
                if not chunk or slow:
                    break
                chunks.append(chunk)
                length -= len(chunk)
            if length:
                return _plain(408, "the request body arrived too slowly") if slow else \
                    _plain(400, "the request body is shorter than its Content-Length")
            return b"".join(chunks)

        def _send(self, response: WebResponse) -> None:
            try:
                self.send_response(response.status)
                for name, value in response.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(response.body)))
                if self.close_connection:
                    self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(response.body)
            except OSError:  # the client went away; nothing to answer
                self.close_connection = True

        def _linger(self) -> None:
            """Close gently after refusing a body: a socket closed with unread input sends a reset, which can
            destroy the answer before the client reads it, so the rest of the input is read and dropped first
            (at most :data:`LINGER_BYTES`, for at most the socket timeout)."""
            try:
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_WR)
                left, deadline = LINGER_BYTES, time.monotonic() + socket_timeout
                while left > 0 and time.monotonic() < deadline and (chunk := self.connection.recv(min(left, 65536))):
                    left -= len(chunk)
            except OSError:  # the client went away, or kept sending past the timeout
                pass

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            # Never the query string: the login URL carries the token. A malformed request line leaves no path.
            path = getattr(self, "path", "")
            log.info("%s %s -> %s", getattr(self, "command", None), path.partition("?")[0][:200], code)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the http.server signature
            log.info("%s", (format % args).split("?", 1)[0])

    return RequestHandler


def _is_length(text: str) -> bool:
    text = text.strip()
    return 0 < len(text) <= 12 and text.isascii() and text.isdigit()


def _target(raw: str) -> tuple[str, str] | None:
    """Path and query of a request target: origin form (``/p?q``) as sent, so that ``//host/p`` stays a path that
    matches no route; absolute form (``http://host/p?q``, as proxies send) by its parts; anything else None."""
    if raw.startswith("/"):
        path, _, query = raw.partition("?")
        return path, query.partition("#")[0]
    try:
        parts = urlsplit(raw)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return parts.path or "/", parts.query


def _plain(status: int, text: str) -> WebResponse:
    return WebResponse(status, f"{text}\n".encode(), {"Content-Type": "text/plain; charset=utf-8"})
