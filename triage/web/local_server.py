"""A loopback HTTP server for the dashboard: adapts HTTP to a ``Callable[[WebRequest], WebResponse]``.

Used by ``triage dashboard`` and the browser test. It binds 127.0.0.1 unless told otherwise and
serves each request in a thread (the stores are thread-safe).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self
from urllib.parse import parse_qsl, urlsplit

from triage.web.http import WebRequest, WebResponse

log = logging.getLogger(__name__)
Handler = Callable[[WebRequest], WebResponse]
MAX_BODY = 1024 * 1024


def router(routes: Mapping[tuple[str, str], Handler]) -> Handler:
    """A handler dispatching on (method, path): 404 for an unknown path, 405 for a known path and other method."""

    def route(request: WebRequest) -> WebResponse:
        handler = routes.get((request.method, request.path))
        if handler is not None:
            return handler(request)
        if any(path == request.path for _, path in routes):
            return WebResponse(405, b"method not allowed\n", {"Content-Type": "text/plain; charset=utf-8"})
        return WebResponse(404, b"not found\n", {"Content-Type": "text/plain; charset=utf-8"})

    return route


class LocalServer:
    """``handler`` served over HTTP on ``host:port`` (port 0: any free port) in a background thread."""

    def __init__(self, handler: Handler, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = ThreadingHTTPServer((host, port), _request_handler(handler))
        self._server.daemon_threads = True
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


def _request_handler(handler: Handler) -> type[BaseHTTPRequestHandler]:
    class RequestHandler(BaseHTTPRequestHandler):
        server_version = "triage-localweb"
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - the http.server naming
            self._handle()

        def do_POST(self) -> None:  # noqa: N802
            self._handle()

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._send(WebResponse(413, b"request body too large\n", {"Content-Type": "text/plain; charset=utf-8"}))
                return
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            request = WebRequest(method=self.command, path=parts.path, query=dict(parse_qsl(parts.query)),
                                 headers=dict(self.headers.items()), body=body, scheme="http")
            try:
                response = handler(request)
            except Exception:  # noqa: BLE001 - answer 500 and keep serving; the traceback goes to the log
                log.exception("dashboard request %s %s failed", self.command, parts.path)
                response = WebResponse(500, b"internal error (see the server log)\n",
                                       {"Content-Type": "text/plain; charset=utf-8"})
            self._send(response)

        def _send(self, response: WebResponse) -> None:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            # Never the query string: the login URL carries the token.
            log.info("%s %s -> %s", self.command, urlsplit(self.path).path, code)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the http.server signature
            log.info("%s", (format % args).split("?", 1)[0])

    return RequestHandler
