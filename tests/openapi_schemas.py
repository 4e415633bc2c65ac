"""JSON Schema plumbing for :mod:`tests.openapi_check`: OpenAPI 3.0 schemas as draft 4, formats, a validator
that remembers valid objects, and readable descriptions of what is wrong."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft4Validator, FormatChecker, validators
from jsonschema.exceptions import ValidationError

DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
SPACE = re.compile(r"\s")
LOOPBACK = re.compile(r"http://127\.0\.0\.1:[0-9]+")  # test servers differ only by port: one cache


def formats() -> FormatChecker:
    """``date-time`` (RFC 3339) and ``uri`` (absolute), the formats GitHub's objects use."""
    checker = FormatChecker(formats=())

    @checker.checks("date-time", raises=ValueError)
    def date_time(value: object) -> bool:
        """RFC 3339, as GitHub writes times."""
        if not isinstance(value, str):
            return True
        if not DATE_TIME.fullmatch(value):
            raise ValueError(f"{value!r} is not an RFC 3339 date-time")
        datetime.fromisoformat(value.replace("Z", "+00:00"))
        return True

    @checker.checks("uri", raises=ValueError)
    def uri(value: object) -> bool:
        """An absolute URI."""
        if not isinstance(value, str):
            return True
        parts = urlsplit(value)
        if not parts.scheme or not (parts.netloc or parts.scheme == "mailto") or SPACE.search(value):
            raise ValueError(f"{value!r} is not an absolute URI")
        return True

    return checker


def memo_validator() -> Any:
    """Draft 4 whose ``$ref`` remembers the objects it found valid: users, labels and issues recur by the
    thousand (each event of a repository's list embeds its issue), so each is validated once."""
    plain_ref = Draft4Validator.VALIDATORS["$ref"]
    valid: set[tuple[str, bytes]] = set()

    def ref(validator: Any, target: str, instance: Any, schema: Any) -> Any:
        """``$ref``, skipping objects already found valid against its target."""
        if not isinstance(instance, dict):
            yield from plain_ref(validator, target, instance, schema)
            return
        text = LOOPBACK.sub("https://api.github.com", json.dumps(instance, sort_keys=True))
        key = (target, hashlib.sha1(text.encode()).digest())
        if key in valid:
            return
        errors = list(plain_ref(validator, target, instance, schema))
        if not errors:
            valid.add(key)
        yield from errors

    return validators.extend(Draft4Validator, {"$ref": ref})


def to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema objects -> JSON Schema draft 4: ``nullable: true`` admits ``null``."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: to_json_schema(value) for key, value in node.items()}
    if out.get("nullable") is True:  # a *property* named "nullable" holds a dict, never True
        del out["nullable"]
        if "type" in out:
            out["type"] = [out["type"], "null"]
            if "enum" in out and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        else:
            return {"anyOf": [{"type": "null"}, out]}
    return out


def describe(error: ValidationError) -> str:
    """Where and why, descending into ``anyOf``/``oneOf`` to the alternative that came closest."""
    while error.context:
        by_alternative: dict[Any, list[ValidationError]] = {}
        for sub in error.context:
            by_alternative.setdefault(sub.relative_schema_path[0], []).append(sub)
        # an alternative of the wrong type altogether is the least close, whatever its count of errors
        closest = min(by_alternative.values(), key=lambda errors: (
            any(e.validator == "type" and not e.relative_path for e in errors), len(errors)))
        if len(closest) > 1:
            base = where(closest[0])
            return f"{base}: no alternative matches; the closest lacks: " + "; ".join(
                f"{where(e)[len(base):] or '$'} {e.message[:120]}" for e in closest[:6])
        error = closest[0]
    return f"{where(error)}: {error.message[:300]}"


def where(error: ValidationError) -> str:
    """The JSON path of an error, like ``$[3]['user']``."""
    return "$" + "".join(f"[{p!r}]" if isinstance(p, str) else f"[{p}]" for p in error.absolute_path)


def pointer(*parts: str) -> str:
    """A JSON pointer (without ``#/``) to ``parts``."""
    return "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)
