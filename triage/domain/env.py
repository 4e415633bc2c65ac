"""The one typed reader of settings from the environment.

A settings class is a frozen dataclass whose fields are declared with :func:`setting`: the
environment variable, a one-line description, and the rule the value must follow. :func:`read`
builds an instance from an environment mapping, so every setting is parsed, range-checked and
reported the same way, and :func:`reference` writes the configuration reference from the same
declarations (``docs/configuration.md`` is generated from it).

Rules every value follows, whatever its field: numbers are finite (``nan``, ``inf`` and
``1e999`` are refused), secrets are at least their minimum length and not blank, and a value
that App Service could not resolve from Key Vault (it passes ``@Microsoft.KeyVault(...)`` on)
never serves as a secret.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

from triage.domain.errors import ConfigError

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


def parse_float(text: str) -> float:
    """A finite number."""
    value = float(text.strip())
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
            if not text.strip() or len(text.strip()) < meta["min_length"]:
                raise ConfigError(f"{name} is too weak: a secret must have at least {meta['min_length']} "
                                  "non-blank characters; generate one with `openssl rand -hex 32`")
            value = text
        elif name in env:
            try:
                value = (meta["parse"] or _parser(hints[f.name]))(env[name])
            except (ValueError, TypeError, OverflowError, ConfigError) as exc:
                raise ConfigError(f"{name}={env[name][:80]!r} is invalid: {exc}") from None
        else:
            continue
        _check(name, value, meta["rule"])
        values[f.name] = value
    return cls(**values)


def _check(name: str, value: Any, rule: Rule | None) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{name}={value!r} is invalid: must be a finite number")
    if rule is not None and not rule.check(value):
        raise ConfigError(f"{name}={value!r} is invalid: must be {rule.expected}")


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
                doc += f" At least {meta['min_length']} characters."
            rows.append(f"| `{meta['env']}` | {f'`{shown}`' if shown else '(empty)'} | {doc} |")
    return "\n".join(rows) + "\n"
