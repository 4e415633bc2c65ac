"""Checks answers of the GitHub test server against GitHub's own REST description (npm ``@octokit/openapi``).

:class:`OpenAPICheck` loads ``api.github.com.json`` once (OpenAPI 3.0: ``nullable`` is turned into JSON
Schema's ``"null"`` type), finds the operation of each answer by method and path template, and checks

* the status: one the operation documents, or one GitHub documents for every endpoint (see ``GENERIC``);
* the body: valid JSON, valid against that response's schema (``date-time`` and ``uri`` formats included),
  empty for 204 and 304;
* the headers: JSON ``Content-Type`` with a body, integer ``X-RateLimit-*`` headers, ``Location`` on
  redirects and wherever the response documents it, well-formed ``Link`` headers.

``/repositories/{id}/...`` (GitHub's id-based alias of ``/repos/{owner}/{repo}/...``, where renamed
repositories redirect to) is checked as the ``/repos/{owner}/{repo}/...`` operation; a label name in a path
may hold a ``/`` (PyGithub sends it unescaped).  Items of an issue's event list and timeline are checked
against their own kind's schema (``EVENT_KINDS``).  The session-wide instance (:func:`session_check`)
collects every answer of every :class:`tests.github_server.GitHubServer` during a test run;
``tests/conftest.py`` fails the run if any deviates.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from tests.emulators.run import OPENAPI_JSON, ensure_installed
from tests.openapi_schemas import LOOPBACK, describe, formats, memo_validator, pointer, to_json_schema

SPEC_URI = "urn:github:openapi"
REDIRECTS = (301, 302, 307)
# Statuses GitHub documents for the REST API as a whole rather than per operation (docs.github.com/rest:
# "any request may result in a redirection", conditional requests, "Problems parsing JSON", authentication,
# "Not Found" for what the caller may not see, primary and secondary rate limits, server errors).
GENERIC = frozenset({*REDIRECTS, 304, 400, 401, 403, 404, 429, 500, 502, 503, 504})
# GitHub answers every issues endpoint of a repository whose issues are disabled with this 410, including
# operations whose description omits 410 (the issue list, the repository's events).
ISSUES_DISABLED = "Issues are disabled for this repo"
# Each kind of issue event has its own schema in the description, but the lists' anyOf are too loose (two
# timeline alternatives require nothing at all) or incomplete (an issue's events also hold closed, reopened,
# mentioned...): their items are checked against their kind's schema; other kinds have the generic shape.
_EVENTS = {"labeled": "labeled-issue-event", "unlabeled": "unlabeled-issue-event", "renamed": "renamed-issue-event",
           "assigned": "assigned-issue-event", "unassigned": "unassigned-issue-event",
           "milestoned": "milestoned-issue-event", "demilestoned": "demilestoned-issue-event",
           "locked": "locked-issue-event", "review_requested": "review-requested-issue-event",
           "review_request_removed": "review-request-removed-issue-event",
           "review_dismissed": "review-dismissed-issue-event"}
EVENT_KINDS = {
    "issues/list-events": _EVENTS,
    "issues/list-events-for-timeline": {**_EVENTS, "assigned": "timeline-assigned-issue-event",
                                        "unassigned": "timeline-unassigned-issue-event",
                                        "commented": "timeline-comment-event",
                                        "cross-referenced": "timeline-cross-referenced-event",
                                        "committed": "timeline-committed-event", "reviewed": "timeline-reviewed-event"},
}
GENERIC_EVENT = "state-change-issue-event"
RATE_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "x-ratelimit-used")
LINK_PART = re.compile(r'<(?P<url>[^<>]+)>; rel="(?P<rel>next|prev|first|last)"')
REPOSITORY_ID_PATH = re.compile(r"/repositories/[0-9]+(?P<tail>/.*)?")


@dataclass(frozen=True)
class Exchange:
    """One answer as sent: the request's method, path (no query) and headers; status, headers, body bytes."""

    method: str
    path: str
    status: int
    headers: Mapping[str, str]
    payload: bytes = b""
    request_headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Deviation:
    """An answer that GitHub's description does not allow."""

    method: str
    path: str
    status: int
    operation: str
    problem: str

    def __str__(self) -> str:
        return f"{self.method} {self.path} -> {self.status} ({self.operation}): {self.problem}"


class OpenAPICheck:
    """Validates :class:`Exchange` objects against one OpenAPI description; records what deviates."""

    def __init__(self, path: Path | None = None) -> None:
        if path is None:
            ensure_installed()
            path = OPENAPI_JSON
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        self.version = str(raw.get("info", {}).get("version", "?"))
        self._spec: dict[str, Any] = to_json_schema(raw)
        self._registry: Registry[Any] = Registry().with_resource(SPEC_URI, Resource(self._spec, DRAFT4))
        self._formats = formats()
        self._routes = self._compile_routes()
        self._validator_class = memo_validator()
        self._validators: dict[str, Any] = {}
        self._seen: dict[tuple[str, str], list[str]] = {}
        self._lock = threading.Lock()
        self.validated = 0  # answers checked
        self.deviating = 0  # answers with at least one deviation
        self.deviations: list[Deviation] = []

    # ------------------------------------------------------------------ public

    def check(self, exchange: Exchange) -> list[Deviation]:
        """Check one answer; record and return its deviations (empty if it conforms)."""
        found = self._check(exchange)
        with self._lock:
            self.validated += 1
            self.deviating += bool(found)
            self.deviations += found
        return found

    def schema(self, name: str) -> dict[str, Any]:
        """The description's component schema ``name`` (``nullable`` already turned into ``"null"``)."""
        return dict(self._spec["components"]["schemas"][name])

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any]] | None:
        """(path template, operation object) for a request path, or None if the description has none."""
        match = REPOSITORY_ID_PATH.fullmatch(path)
        if match:  # GitHub's alias by repository id
            path = "/repos/_/_" + (match["tail"] or "")
        for verb, pattern, template, op in self._routes:
            if verb == method.lower() and pattern.fullmatch(path):
                return template, op
        return None

    # ------------------------------------------------------------------ internals

    def _compile_routes(self) -> list[tuple[str, re.Pattern[str], str, dict[str, Any]]]:
        routes = []
        for template, item in self._spec["paths"].items():
            for verb, op in item.items():
                if not isinstance(op, dict) or "responses" not in op:
                    continue
                kinds = {p.get("name"): (p.get("schema") or {}).get("type") for p in self._parameters(op)}
                regex = ""
                for literal, name in re.findall(r"([^{]*)(?:\{([^}]+)\})?", template):
                    regex += re.escape(literal)
                    if name:
                        regex += "[0-9]+" if kinds.get(name) == "integer" else ".*" if name == "path" \
                            else ".+" if template.endswith("/labels/{name}") else "[^/]+"
                literals = len(re.sub(r"\{[^}]+\}", "", template))
                routes.append((literals, verb, re.compile(regex), template, op))
        routes.sort(key=lambda route: -route[0])
        return [(verb, pattern, template, op) for _, verb, pattern, template, op in routes]

    def _parameters(self, op: dict[str, Any]) -> list[dict[str, Any]]:
        return [self._resolve(p) for p in op.get("parameters", [])]

    def _resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = self._at(node["$ref"].removeprefix("#/"))
        return node

    def _at(self, at: str) -> Any:
        node: Any = self._spec
        for part in at.split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def _check(self, ex: Exchange) -> list[Deviation]:
        found = self._operation_problems(ex)
        found += self._header_problems(ex)
        return found

    def _operation_problems(self, ex: Exchange) -> list[Deviation]:
        route = self.operation(ex.method, ex.path)
        name = route[1].get("operationId", route[0]) if route else "no operation"

        def deviations(problems: list[str]) -> list[Deviation]:
            """The problems as deviations of this answer."""
            return [Deviation(ex.method, ex.path, ex.status, name, problem) for problem in problems]

        try:
            body = json.loads(ex.payload) if ex.payload else None
        except ValueError as exc:
            return deviations([f"the body is not JSON: {exc}"])
        if route is None and ex.status not in GENERIC:
            return deviations([f"{ex.method} {ex.path} is not an operation of the description"])
        responses = route[1]["responses"] if route else {}
        if str(ex.status) not in responses:
            disabled = (ex.status == 410 and "/issues" in ex.path and isinstance(body, dict)
                        and body.get("message") == ISSUES_DISABLED)
            if ex.status not in GENERIC and not disabled:
                return deviations([f"status {ex.status} is not documented (documented: {', '.join(responses)})"])
            if ex.status == 304:
                return deviations(["a 304 must have no body"] if ex.payload else [])
            return deviations(self._validate("components/schemas/basic-error", body))
        assert route is not None
        at = pointer("paths", route[0], ex.method.lower(), "responses", str(ex.status))
        response = responses[str(ex.status)]
        if "$ref" in response:
            at = response["$ref"].removeprefix("#/")
            response = self._resolve(response)
        content = response.get("content") or {}
        media = "application/json" if "application/json" in content else next(iter(content), None)
        if media is None or ex.status in (204, 304):
            return deviations([] if body is None else [f"a {ex.status} here has no body, but one was sent"])
        if body is None:
            return deviations([f"the response documents a {media} body, but none was sent"])
        schema = at + "/content/" + pointer(media) + "/schema"
        kinds = EVENT_KINDS.get(route[1].get("operationId", ""))
        if kinds is not None and isinstance(body, list):
            problems = []
            for index, item in enumerate(body):
                kind = item.get("event") if isinstance(item, dict) else None
                item_schema = f"components/schemas/{kinds.get(str(kind), GENERIC_EVENT)}"
                problems += [f"$[{index}]{p[1:]}" for p in self._validate_one(item_schema, item)]
            return deviations(problems[:5])
        return deviations(self._validate(schema, body))

    def _validate(self, at: str, body: Any) -> list[str]:
        """Problems of ``body`` against the schema at ``at``; list items are checked (and cached) one by one."""
        schema = self._resolve(self._at(at))
        if isinstance(body, list) and schema.get("type") in ("array", ["array", "null"]) and "items" in schema:
            items = at if "$ref" not in self._at(at) else self._at(at)["$ref"].removeprefix("#/")
            problems = []
            for index, item in enumerate(body):
                problems += [f"$[{index}]{problem[1:]}" for problem in self._validate_one(items + "/items", item)]
            return problems[:5]
        return self._validate_one(at, body)

    def _validate_one(self, at: str, body: Any) -> list[str]:
        canonical = LOOPBACK.sub("https://api.github.com", json.dumps(body, sort_keys=True))
        key = (at, hashlib.sha1(canonical.encode()).hexdigest())
        with self._lock:
            if key in self._seen:
                return self._seen[key]
            validator = self._validators.get(at)
            if validator is None:
                validator = self._validator_class({"$ref": f"{SPEC_URI}#/{at}"}, registry=self._registry,
                                                  format_checker=self._formats)
                self._validators[at] = validator
        problems = [describe(error) for error in list(validator.iter_errors(body))[:5]]
        with self._lock:
            self._seen[key] = problems
        return problems

    def _header_problems(self, ex: Exchange) -> list[Deviation]:
        route = self.operation(ex.method, ex.path)
        name = route[1].get("operationId", route[0]) if route else "no operation"
        headers = {k.lower(): v for k, v in ex.headers.items()}
        problems = []
        if ex.payload and not headers.get("content-type", "").startswith("application/json"):
            problems.append(f"Content-Type {headers.get('content-type')!r} for a JSON body")
        for header in RATE_HEADERS:
            if not headers.get(header, "").isdigit():
                problems.append(f"{header} is {headers.get(header)!r}, not an integer")
        if ex.status in REDIRECTS:
            location = urlsplit(headers.get("location", ""))
            if not (location.scheme and location.netloc):
                problems.append(f"a {ex.status} needs an absolute Location, got {headers.get('location')!r}")
        if route is not None:
            documented = route[1]["responses"].get(str(ex.status), {})
            for header in self._resolve(documented).get("headers", {}) if isinstance(documented, dict) else {}:
                if header.lower() == "location" and "location" not in headers:
                    problems.append("the response documents a Location header, none was sent")
        if "link" in headers:
            parts = [part.strip() for part in headers["link"].split(",")]
            for part in parts:
                match = LINK_PART.fullmatch(part)
                if not match or not urlsplit(match["url"]).netloc:
                    problems.append(f"malformed Link part {part!r}")
        return [Deviation(ex.method, ex.path, ex.status, name, p) for p in problems]


_SESSION: OpenAPICheck | None = None
_SESSION_LOCK = threading.Lock()


def session_check() -> OpenAPICheck:
    """The check shared by every test server of this test run (loaded on first use)."""
    global _SESSION
    with _SESSION_LOCK:
        if _SESSION is None:
            _SESSION = OpenAPICheck()
        return _SESSION


def session_summary() -> OpenAPICheck | None:
    """The session-wide check if any server used it, else None (nothing is loaded)."""
    return _SESSION
