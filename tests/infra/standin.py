"""A loopback stand-in for the deployed Function App, for the smoke test of infra/hooks/smoke.sh.

Run as a child process (``python -m tests.infra.standin --function-key KEY [--easy-auth --excluded P,...]
[--image REPO:TAG ...]``); it prints ``READY <port>`` once it listens on 127.0.0.1 and serves until killed.

The app is the real one: ``function_app`` is imported, every registered HTTP function is routed by its binding
(route, methods, auth level) and called with a real ``azure.functions.HttpRequest``, on the embedded stores that the
environment (``TRIAGE_HOME`` ...) selects. What the Azure platform does in front of the code is emulated, no more:

* the Functions host: the ``/api`` route prefix (host.json), and function-level keys (``x-functions-key`` header or
  ``code`` query parameter, else 401) for functions whose auth level is not anonymous;
* the Durable client binding: functions that take one are called below the Durable middleware, as the unit tests do
  (``tests/durable_double.py``), with a client that starts nothing;
* App Service Authentication (``--easy-auth``): outside the excluded paths, a request without a session cookie is
  redirected (302) to ``/.auth/login/aad``; with one, the principal headers are injected (client copies removed); and
  ``WEBSITE_AUTH_ENABLED=True`` is in the app's environment, as the host puts it there on Flex Consumption;
* a container registry's manifest endpoint (``/v2/<repo>/manifests/<tag>``) for the images named with ``--image``,
  so that the smoke test's image check has something to ask.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

ROOT = Path(__file__).resolve().parents[2]
SESSION_COOKIE = "AppServiceAuthSession"


@dataclass(frozen=True)
class Route:
    """One HTTP function as the Functions host routes it."""

    name: str
    pattern: re.Pattern[str]
    methods: frozenset[str]
    anonymous: bool
    request_param: str
    client_param: str | None
    function: Callable[..., Any]


class StandInDurableClient:
    """Stands in for the Durable client: nothing is running, starting records the request and does nothing."""

    def __init__(self) -> None:
        self.started: list[tuple[str, str | None]] = []

    async def get_status(self, instance_id: str) -> Any:
        return type("Status", (), {"runtime_status": None})()

    async def start_new(self, name: str, instance_id: str | None = None, payload: Any = None) -> str:
        self.started.append((name, instance_id))
        return instance_id or "stand-in"

    def create_check_status_response(self, request: Any, instance_id: str) -> Any:
        import azure.functions as func

        return func.HttpResponse(json.dumps({"id": instance_id}), status_code=202, mimetype="application/json")


def load_routes() -> list[Route]:
    """The app's HTTP functions, read from their bindings."""
    import function_app

    prefix = json.loads((ROOT / "host.json").read_text(encoding="utf-8")).get("extensions", {}).get(
        "http", {}).get("routePrefix", "api")
    routes = []
    for function in function_app.app.get_functions():
        bindings = json.loads(function.get_function_json())["bindings"]
        trigger = next((b for b in bindings if b["type"] == "httpTrigger"), None)
        if trigger is None:
            continue
        client = next((b for b in bindings if b["type"] == "durableClient"), None)
        route = trigger.get("route") or function.get_function_name()
        regex = re.sub(r"\{(\w+)(?::[^}]*)?\}", r"(?P<\1>[^/]+)", route)
        routes.append(Route(
            name=function.get_function_name(),
            pattern=re.compile(f"^/{prefix}/{regex}$" if prefix else f"^/{regex}$"),
            methods=frozenset(m.upper() for m in trigger.get("methods") or ("GET", "POST")),
            anonymous=str(trigger.get("authLevel", "function")).lower() == "anonymous",
            request_param=trigger["name"],
            client_param=client["name"] if client else None,
            function=function.get_user_function(),
        ))
    return routes


def excluded(path: str, patterns: list[str]) -> bool:
    """Whether App Service Authentication lets ``path`` through: equal to a pattern, or below a ``…/*`` one."""
    return any(path == p or (p.endswith("/*") and path.startswith(p[:-1])) for p in patterns)


def make_handler(routes: list[Route], key: str, easy_auth: bool, patterns: list[str],
                 images: set[str]) -> type[BaseHTTPRequestHandler]:
    """The request handler class of the stand-in."""
    import azure.functions as func

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            sys.stderr.write(f"stand-in: {format % args}\n")

        def reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - the base class's naming
            self.handle_any()

        def do_POST(self) -> None:  # noqa: N802
            self.handle_any()

        def do_HEAD(self) -> None:  # noqa: N802
            self.handle_any()

        def handle_any(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            registry = re.fullmatch(r"/v2/(.+)/manifests/([^/]+)", url.path)
            if registry:
                found = f"{registry.group(1)}:{registry.group(2)}" in images
                manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                                       "manifests": []}).encode()
                self.reply(200 if found else 404, manifest if found else b"{}",
                           {"Content-Type": "application/vnd.oci.image.index.v1+json"})
                return
            headers = {name: value for name, value in self.headers.items()}
            if easy_auth and not excluded(url.path, patterns):
                headers = {n: v for n, v in headers.items() if not n.lower().startswith("x-ms-client-principal")}
                cookies = dict(part.strip().split("=", 1) for part in headers.get("Cookie", "").split(";")
                               if "=" in part)
                user = cookies.get(SESSION_COOKIE)
                if not user:
                    target = quote(url.path + (f"?{url.query}" if url.query else ""), safe="")
                    self.reply(302, b"", {"Location": f"/.auth/login/aad?post_login_redirect_uri={target}"})
                    return
                headers["X-MS-CLIENT-PRINCIPAL-NAME"] = user
                headers["X-MS-CLIENT-PRINCIPAL-ID"] = user
            for route in routes:
                match = route.pattern.match(url.path)
                if match is None:
                    continue
                if self.command.replace("HEAD", "GET") not in route.methods:
                    self.reply(405)
                    return
                params = {name: values[0] for name, values in parse_qs(url.query).items()}
                if not route.anonymous:
                    given = {n.lower(): v for n, v in headers.items()}.get("x-functions-key") or params.get("code")
                    if given != key:
                        self.reply(401)
                        return
                request = func.HttpRequest(self.command, f"http://{self.headers.get('Host', '127.0.0.1')}{self.path}",
                                           headers=headers, params=params, route_params=match.groupdict(), body=body)
                self.reply(*self.call(route, request))
                return
            self.reply(404)

        def call(self, route: Route, request: Any) -> tuple[int, bytes, dict[str, str]]:
            function = route.function
            arguments: dict[str, Any] = {route.request_param: request}
            if route.client_param:
                function = function.__wrapped__  # below the Durable client middleware
                arguments[route.client_param] = StandInDurableClient()
            try:
                response = function(**arguments)
                if inspect.isawaitable(response):
                    response = asyncio.run(response)
            except Exception as exc:  # noqa: BLE001 - the host answers 500 whatever a function raises
                sys.stderr.write(f"stand-in: {route.name} raised {exc!r}\n")
                return 500, b"", {}
            headers = {name: value for name, value in response.headers.items()}
            if response.mimetype and not any(n.lower() == "content-type" for n in headers):
                headers["Content-Type"] = f"{response.mimetype}; charset={response.charset or 'utf-8'}"
            return response.status_code, response.get_body() or b"", headers

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--function-key", required=True, help="the key function-level routes accept")
    parser.add_argument("--easy-auth", action="store_true", help="emulate App Service Authentication")
    parser.add_argument("--excluded", default="", help="comma-separated paths Easy Auth lets through")
    parser.add_argument("--image", action="append", default=[], help="REPO:TAG the registry endpoint knows")
    args = parser.parse_args(argv)
    if args.easy_auth:
        os.environ["WEBSITE_AUTH_ENABLED"] = "True"  # what the Functions host sets on Flex when the feature is on
    else:
        os.environ.pop("WEBSITE_AUTH_ENABLED", None)
    sys.path.insert(0, str(ROOT))
    handler = make_handler(load_routes(), args.function_key, args.easy_auth,
                           [p for p in args.excluded.split(",") if p], set(args.image))
    server = HTTPServer(("127.0.0.1", 0), handler)
    print(f"READY {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
