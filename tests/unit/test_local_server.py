"""The loopback server (``triage dashboard``) against malformed HTTP, over real sockets (issue #13, item 17).

Every request gets an answer or a closed connection within the server's timeouts, never a hang nor a
crash: a malformed or negative ``Content-Length`` is a 400, a POST without one a 411, a body over the
limit a 413, a body shorter than announced a 400 (or 408 while the client keeps the connection open),
and the server keeps serving afterwards.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from triage.web.http import WebRequest, WebResponse
from triage.web.local_server import MAX_BODY, LocalServer, router

CLIENT_TIMEOUT = 5.0  # far above the server's timeouts below: a hang shows as a failed test, not a stuck run


def echo(request: WebRequest) -> WebResponse:
    return WebResponse(200, b"len=%d client=%s" % (len(request.body), request.client.encode()),
                       {"Content-Type": "text/plain"})


def boom(request: WebRequest) -> WebResponse:
    raise RuntimeError("handler bug")


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    routes = {("POST", "/x"): echo, ("GET", "/x"): echo, ("GET", "/boom"): boom}
    with LocalServer(router(routes), timeout=1.0, body_seconds=2.0) as running:
        yield running


def exchange(server: LocalServer, raw: bytes, *, keep_open: bool = False) -> bytes:
    """Send ``raw`` and read until the server closes or answers one response."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=CLIENT_TIMEOUT) as sock:
        sock.sendall(raw)
        if not keep_open:
            sock.shutdown(socket.SHUT_WR)
        data = b""
        while b"\r\n\r\n" not in data or len(data) < _expected(data):
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
        return data


def _expected(data: bytes) -> int:
    head, _, _ = data.partition(b"\r\n\r\n")
    match = re.search(rb"(?i)content-length: *(\d+)", head)
    return len(head) + 4 + (int(match.group(1)) if match else 0)


def status(data: bytes) -> int:
    match = re.match(rb"HTTP/1\.[01] (\d{3})", data)
    assert match, f"no HTTP answer: {data[:200]!r}"
    return int(match.group(1))


def still_serves(server: LocalServer) -> None:
    assert status(exchange(server, b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")) == 200


@pytest.mark.parametrize(("length", "code"), [
    ("abc", 400), ("-5", 400), ("+5", 400), ("5.0", 400), ("0x5", 400), ("\u0665", 400), ("5 5", 400),
    ("", 400), ("9" * 40, 400), (str(MAX_BODY + 1), 413), ("99999999999", 413),
])
def test_a_bad_content_length_is_refused(server: LocalServer, length: str, code: int) -> None:
    raw = f"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\nhello".encode()
    answer = exchange(server, raw)
    assert status(answer) == code and b"Connection: close" in answer
    still_serves(server)


def test_a_post_without_a_length_or_with_two_lengths_is_refused(server: LocalServer) -> None:
    assert status(exchange(server, b"POST /x HTTP/1.1\r\nHost: x\r\n\r\nhello")) == 411
    chunked = b"POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    assert status(exchange(server, chunked)) == 411
    smuggled = b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\nhello"
    assert status(exchange(server, smuggled)) == 400
    two = b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"
    assert status(exchange(server, two)) == 400
    still_serves(server)


def test_a_short_body_never_hangs_the_server(server: LocalServer) -> None:
    closed = exchange(server, b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly ten b")
    assert status(closed) == 400 and b"shorter" in closed
    kept_open = exchange(server, b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly ten b", keep_open=True)
    assert status(kept_open) == 408
    still_serves(server)


def test_good_requests_and_the_peer_address(server: LocalServer) -> None:
    answer = exchange(server, b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nClient-IP: 6.6.6.6\r\n\r\nhello")
    assert status(answer) == 200 and answer.endswith(b"len=5 client=127.0.0.1"), "the socket's peer, not a header"
    assert status(exchange(server, b"GET /x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")) == 200
    assert status(exchange(server, b"GET http://x/x?a=1 HTTP/1.1\r\nHost: x\r\n\r\n")) == 200


@pytest.mark.parametrize("target", ["//evil.example/x", "/%2Fx", "*", "x", "ftp://x/x", "http:///x"])
def test_request_targets_are_taken_literally(server: LocalServer, target: str) -> None:
    assert status(exchange(server, f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())) in (400, 404)


def test_a_failing_handler_is_a_500_and_the_server_goes_on(server: LocalServer) -> None:
    assert status(exchange(server, b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n")) == 500
    still_serves(server)


def test_concurrent_malformed_requests(server: LocalServer) -> None:
    answers: list[int] = []

    def one(n: int) -> None:
        raw = f"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: {['abc', '-1', '3'][n % 3]}\r\n\r\nabc".encode()
        answers.append(status(exchange(server, raw)))

    threads = [threading.Thread(target=one, args=(n,)) for n in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [200] * 10 + [400] * 20


request_heads = st.builds(
    lambda method, target, headers, body: (f"{method} {target} HTTP/1.1\r\n".encode("utf-8", "surrogateescape")
                                           + b"".join(h + b"\r\n" for h in headers) + b"\r\n" + body),
    st.sampled_from(["GET", "POST", "PUT", "HEAD", "G\u00c9T", ""]),
    st.one_of(st.just("/x"), st.text(alphabet=st.characters(codec="ascii", exclude_characters="\r\n "), max_size=30)),
    st.lists(st.one_of(st.sampled_from([b"Content-Length: 3", b"Content-Length: -1", b"Content-Length: abc",
                                        b"Transfer-Encoding: chunked", b"Host: x", b"Expect: 100-continue"]),
                       st.binary(max_size=40).filter(lambda b: b"\r\n" not in b)), max_size=5),
    st.binary(max_size=50),
)


def server_errors(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> list[str]:
    """Failures the server logged, and tracebacks printed to stderr by its threads (what socketserver does)."""
    printed = capsys.readouterr().err
    return [r.getMessage() for r in caplog.records if r.name == "triage.web.local_server" and r.levelno >= logging.ERROR
            ] + ([printed] if "Traceback" in printed else [])


@pytest.mark.parametrize("line", [b"GARBAGE", b"GET /x HTTP/9.9", b"GET /x HTTP/1.1 extra", b"GET", b"\xff\xfe /x HTTP/1.1",
                                  b"GET /x HTTP/1.1\r\nBad Header Line", b"GET /" + b"x" * 70_000 + b" HTTP/1.1"])
def test_a_malformed_request_line_is_answered_and_logged_quietly(server: LocalServer, line: bytes,
                                                                   caplog: pytest.LogCaptureFixture,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG, "triage.web.local_server")
    answer = exchange(server, line + b"\r\n\r\n")
    assert status(answer) in (200, 400, 414, 431, 501, 505)
    still_serves(server)
    assert server_errors(caplog, capsys) == []


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=request_heads)
def test_any_request_gets_an_answer_or_a_close_and_the_server_survives(server: LocalServer, raw: bytes,
                                                                       caplog: pytest.LogCaptureFixture,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG, "triage.web.local_server")
    answer = exchange(server, raw)
    if answer:  # or the connection closed: an empty request, or one cut short
        assert status(answer) != 500
    still_serves(server)
    assert server_errors(caplog, capsys) == [], "no request makes the server log a failure"
