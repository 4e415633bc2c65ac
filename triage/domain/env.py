"""The one typed reader of settings from the environment.

A settings class is a frozen dataclass whose fields are declared with :func:`setting`: the
environment variable, a one-line description, and the rule the value must follow. :func:`read`
builds an instance from an environment mapping, so every setting is parsed, range-checked and
reported the same way, and :func:`reference` writes the configuration reference from the same
declarations (``docs/configuration.md`` is generated from it).

Rules every value follows, whatever its field: numbers are finite and written in ASCII (``nan``,
``inf``, ``1e999``, ``1_000`` and ``٣`` are refused), text holds no NUL character and no lone
surrogate (bytes that were not UTF-8), secrets have at least their minimum number of non-blank
characters, half as many of them different (at most 8), and a value that App Service could not resolve
from Key Vault (it passes ``@Microsoft.KeyVault(...)`` on) never serves as a secret. Whatever the
value, :func:`read` either returns a value that satisfies its field's rule or raises
:class:`ConfigError` naming the variable.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, fields
from pathlib import Path, PurePath
from typing import Any, TypeVar

from triage.domain.errors import ConfigError, TriageError

KEY_VAULT_REFERENCE = "@Microsoft.KeyVault("
T = TypeVar("T")
Check = Callable[[Any], bool]


@dataclass(frozen=True)
class Rule:
    """A check on a parsed value and the words that describe it (``"at least 1"``)."""

    check: Check
    expected: str


def _num(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def at_least(low: float) -> Rule:
    """Values >= ``low``."""
    return Rule(lambda v: v >= low, f"at least {_num(low)}")


def between(low: float, high: float, *, low_open: bool = False, high_open: bool = False) -> Rule:
    """Values in the interval from ``low`` to ``high`` (each end closed unless told open)."""
    def check(v: float) -> bool:
        return (v > low if low_open else v >= low) and (v < high if high_open else v <= high)
    return Rule(check, f"a number in {'(' if low_open else '['}{_num(low)}, {_num(high)}{')' if high_open else ']'}")


def positive() -> Rule:
    """Values > 0."""
    return Rule(lambda v: v > 0, "positive")


def one_of(*choices: str) -> Rule:
    """One of the given words."""
    return Rule(lambda v: v in choices, "one of " + ", ".join(choices))


def setting(env: str, default: Any, doc: str, rule: Rule | None = None, *, secret: bool = False,
            min_length: int = 0, parse: Callable[[str], Any] | None = None) -> Any:
    """A settings field read from ``env``; ``secret`` values are never shown and need ``min_length`` characters."""
    meta = {"env": env, "doc": doc, "rule": rule, "secret": secret, "min_length": min_length, "parse": parse}
    if isinstance(default, (list, dict, set)):
        raise TypeError("use a tuple or frozen value as a setting's default")
    return dataclasses.field(default=default, metadata=meta)


def parse_bool(text: str) -> bool:
    """``true/false``, ``1/0``, ``yes/no``, ``on/off`` (any case)."""
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


def parse_list(text: str) -> tuple[str, ...]:
    """A comma-separated list; blanks around items and empty items are dropped."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


def parse_int(text: str) -> int:
    """A whole number written in ASCII digits (``1.5``, ``1e3`` and ``٣`` are refused)."""
    stripped = text.strip()
    body = stripped[1:] if stripped[:1] in "+-" else stripped
    if not body.isascii() or not body.isdigit() or len(body) > 18:
        raise ValueError("expected a whole number")
    return int(stripped)


def parse_path(text: str) -> Path:
    """A non-empty path."""
    if not text.strip():
        raise ValueError("expected a path")
    return Path(text.strip())


_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?")


def parse_float(text: str) -> float:
    """A finite decimal number in ASCII (``0.5``, ``-1``, ``3e-5``); ``nan``, ``inf``, ``1e999``, ``1_0`` and
    non-ASCII digits are refused (Python's ``float`` would take them)."""
    stripped = text.strip()
    if len(stripped) > 64 or not _DECIMAL.fullmatch(stripped):
        raise ValueError("expected a decimal number such as 0.5 or 3e-5")
    value = float(stripped)
    if not math.isfinite(value):
        raise ValueError("expected a finite number")
    return value


_PARSERS: dict[Any, Callable[[str], Any]] = {
    int: parse_int, float: parse_float, bool: parse_bool, str: str, Path: parse_path,
    tuple[str, ...]: parse_list,
}


def _parser(kind: Any) -> Callable[[str], Any]:
    if kind in _PARSERS:
        return _PARSERS[kind]
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    if typing.get_origin(kind) in (typing.Union, types.UnionType) and len(args) == 1:  # Optional[X]
        return _parser(args[0])
    raise TypeError(f"no parser for settings of type {kind!r}")


def secret_value(env: Mapping[str, str], name: str) -> str:
    """A secret from the environment; "" when unset or an unresolved Key Vault reference."""
    value = env.get(name, "")
    if value.strip().startswith(KEY_VAULT_REFERENCE):
        logging.getLogger(__name__).error(
            "%s is an unresolved Key Vault reference: check that the secret exists and that the app's identity "
            "has Key Vault Secrets User on the vault; treating it as unset", name)
        return ""
    return value


def read(cls: type[T], env: Mapping[str, str], **overrides: Any) -> T:
    """An instance of the settings class ``cls`` from ``env``; ``overrides`` (not None) win over the environment.

    Raises :class:`ConfigError` naming the variable, the value's problem and what it must be.
    """
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in fields(cls):  # type: ignore[arg-type]
        meta = f.metadata
        if "env" not in meta:
            if overrides.get(f.name) is not None:
                values[f.name] = overrides[f.name]
            continue
        name = meta["env"]
        if f.name in overrides and overrides[f.name] is not None:
            value = overrides[f.name]
        elif meta["secret"]:
            text = secret_value(env, name)
            if not text:
                continue
            check_text(name, text, shown=False)
            _check_secret(name, text, meta["min_length"])
            value = text
        elif name in env and (env[name].strip() or f.default is not None):
            # An optional setting left blank is unset: azd and app settings render an unset parameter as "".
            check_text(name, env[name])
            try:
                value = (meta["parse"] or _parser(hints[f.name]))(env[name])
            except (ValueError, TypeError, OverflowError, TriageError) as exc:
                raise ConfigError(f"{name}={env[name][:80]!r} is invalid: {exc}") from None
        else:
            continue
        _check(name, value, meta["rule"])
        values[f.name] = value
    return cls(**values)


def check_text(name: str, text: str, *, shown: bool = True) -> None:
    """Refuse what no real environment holds: a NUL character, or a lone surrogate (bytes that were not UTF-8)."""
    value = f"={text[:80]!r}" if shown else ""
    if "\x00" in text:
        raise ConfigError(f"{name}{value} is invalid: it contains a NUL character; remove it")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigError(f"{name}{value} is invalid: it is not UTF-8 text; set it again as UTF-8") from None


def _check_secret(name: str, text: str, min_length: int) -> None:
    """A secret has ``min_length`` non-blank characters, not blank, and (with a minimum) ``min_length // 2`` different
    ones, at most 8: a one-character or ``aaaa…`` secret is refused, a random one never is."""
    visible = [c for c in text if not c.isspace()]
    distinct = min(8, min_length // 2)
    if not visible or len(visible) < min_length or len(set(visible)) < distinct:
        variety = f", at least {distinct} of them different" if distinct > 1 else ""
        raise ConfigError(f"{name} is too weak: a secret needs at least {max(min_length, 1)} non-blank characters"
                          f"{variety}; generate one with `openssl rand -hex 32`")


def _check(name: str, value: Any, rule: Rule | None) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{name}={value!r} is invalid: must be a finite number")
    try:
        ok = rule is None or bool(rule.check(value))
    except (TypeError, ValueError):  # a value of the wrong type, given in code
        ok = False
    if not ok:
        assert rule is not None
        huge = isinstance(value, int) and value.bit_length() > 256  # repr() refuses integers of 4,300+ digits
        shown = "a huge number" if huge else repr(str(value) if isinstance(value, PurePath) else value)[:80]
        raise ConfigError(f"{name}={shown} is invalid: must be {rule.expected}")


def check_all(instance: Any) -> None:
    """Apply every field's rule to an instance built in code rather than read from the environment."""
    for f in fields(instance):
        if "env" in f.metadata and getattr(instance, f.name) != f.default:
            _check(f.metadata["env"], getattr(instance, f.name), f.metadata["rule"])


def reference(*classes: type) -> str:
    """A Markdown table of every setting of ``classes``: variable, default, meaning."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for cls in classes:
        for f in fields(cls):
            if "env" not in f.metadata:
                continue
            meta = f.metadata
            default = "" if f.default is MISSING else f.default
            shown = ("(secret)" if meta["secret"] else
                     ", ".join(default) if isinstance(default, tuple) else
                     str(default).lower() if isinstance(default, bool) else str(default))
            doc = meta["doc"] + (f" Must be {meta['rule'].expected}." if meta["rule"] else "")
            if meta["secret"] and meta["min_length"]:
                doc += (f" At least {meta['min_length']} non-blank characters, {min(8, meta['min_length'] // 2)} of "
                        "them different.")
            rows.append(f"| `{meta['env']}` | {f'`{shown}`' if shown else '(empty)'} | {doc} |")
    return "\n".join(rows) + "\n"
