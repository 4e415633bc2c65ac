"""HTTP plumbing: a threading HTTP server that hands each request to ``GitHubServer.dispatch``."""

from __future__ import annotations

import json
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.github.server import GitHubServer

MAX_BODY = 10 * 1024 * 1024


class HTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that knows its :class:`GitHubServer`."""
    daemon_threads = True
    allow_reuse_address = True
    app: GitHubServer

    def handle_error(self, request: Any, client_address: Any) -> None:  # client went away: not our concern
        """A client that went away is not the server's concern."""
        pass


class Handler(BaseHTTPRequestHandler):
    """Reads a request, lets ``GitHubServer.dispatch`` answer it, and sends (or drops, or truncates) the answer."""
    protocol_version = "HTTP/1.0"  # one request per connection: a dropped connection is never a reused one
    server: HTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        """Quiet: the request log is the server's."""
        pass

    def _read_body(self) -> bytes | None:
        """The body, or None when ``Content-Length`` is not a size this server accepts."""
        text = (self.headers.get("Content-Length") or "0").strip()
        if not (text.isascii() and text.isdigit()) or int(text) > MAX_BODY:
            return None
        length = int(text)
        return self.rfile.read(length) if length else b""

    def _close(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _handle(self) -> None:
        raw = self._read_body()
        headers = {k.lower(): v for k, v in self.headers.items()}
        action, code, out_headers, payload = self.server.app.dispatch(self.command, self.path, headers, raw)
        if action == "drop":
            self._close()
            return
        self.send_response(code)
        for name, value in out_headers:
            self.send_header(name, value)
        if code != 304:
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if action == "truncate":
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            self._close()
            return
        if payload:
            self.wfile.write(payload)
        if raw is None:  # the unread body must not be taken for the next request
            self._close()

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle  # noqa: N815 - http.server's naming


def etag_matches(header: str, etag: str) -> bool:
    """True if an ``If-None-Match`` header names ``etag`` (weak or strong) or is ``*``."""
    if not header:
        return False
    if header.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(candidate.strip().removeprefix("W/") == bare for candidate in header.split(","))


def parse_body(raw: bytes | None) -> tuple[Any, str | None]:
    """(parsed JSON or None, the 400 message if the body cannot be taken)."""
    if raw is None:
        return None, "Content-Length must be a non-negative integer of at most 10 MiB"
    if not raw:
        return None, None
    try:
        return json.loads(raw), None
    except (ValueError, UnicodeDecodeError, RecursionError):
        return raw.decode("utf-8", "replace"), "Problems parsing JSON"
