"""Property-based tests of the one settings reader over every field of every settings class.

Whatever text a variable holds (numbers of every spelling, ``nan``/``inf``, huge values, Unicode digits,
blanks, lone surrogates, Key Vault references), reading either gives a value that satisfies the field's
rule or raises :class:`ConfigError` naming the variable: never another exception, never a value out of range.
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import Field, fields
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from triage.adapters.azure.ml_settings import _REQUIRED, AzureMLSettings
from triage.adapters.github.settings import GitHubSettings
from triage.app.settings import AppSettings, Config, DashboardSettings, Settings, StorageSettings, TelemetrySettings
from triage.domain import env as envreader
from triage.domain.errors import ConfigError
from triage.ports.training import TrainingArguments

FAST = settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

# Spellings that Python's own parsers accept but a setting must not, and values at and beyond every edge.
TRICKY = ("nan", "NaN", "-nan", "inf", "-inf", "Infinity", "1e999", "-1e999", "1e-999", "1e-9", "0", "-0", "+0", "0.0",
          "1", "-1", "0.5", ".5", "5.", "1.0", "1.5", "2", "5", "16", "512", "1000", "1001", "3600", "10080", "1e3",
          "9" * 19, "9" * 5000, "-" + "9" * 30, "4294967295", "4294967296", "1_000", "0x10", "0b1", "1e", "e1", "..",
          "²³", "٣", "１２", "١٠٠", "Ⅻ", "½", "\u0661.5", " 5 ", "\t7\n", "", " ", "   ", "a", "x" * 16, "ab" * 8,
          "true", "false", "yes", "TRUE", "maybe", "on", "0 */15 * * * *", "0 0 3 * * 0", "* * * * *", "@weekly",
          "0 0 0 30 2 *", "61 * * * * *", "octo/widgets", "Octo/Widgets, a/b", "a/b/c", "../x", "/", ".", "token",
          "easyauth", "https://example.org", "http://", "https://[::1", "download", "ro_mount",
          "@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/x)", "\udcff\udcfe", "a\x00b",
          "secret-" + "0123456789abcdef", "\u200b" * 20, "\U0001f600" * 16, "a" * 100_000)

values = st.one_of(
    st.sampled_from(TRICKY),
    st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=40),  # incl. lone surrogates
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
)


def env_fields(cls: type) -> list[Field[Any]]:
    return [f for f in fields(cls) if "env" in f.metadata]


def read_settings(env: Mapping[str, str]) -> Settings:
    return Settings.from_env(env)


def read_azure_ml(env: Mapping[str, str]) -> AzureMLSettings:
    return AzureMLSettings.from_env({**{name: "x" for name in _REQUIRED}, **env})


READERS: dict[type, Callable[[Mapping[str, str]], Any]] = {
    Settings: read_settings,
    TrainingArguments: lambda env: envreader.read(TrainingArguments, env),
    AppSettings: lambda env: envreader.read(AppSettings, env),
    StorageSettings: lambda env: envreader.read(StorageSettings, env),
    DashboardSettings: DashboardSettings.from_env,
    GitHubSettings: GitHubSettings.from_env,
    AzureMLSettings: read_azure_ml,
    TelemetrySettings: lambda env: envreader.read(TelemetrySettings, env),
}
CASES = [(cls, f) for cls in READERS for f in env_fields(cls)]


def assert_follows_rule(cls: type, f: Field[Any], value: Any) -> None:
    """The value read for ``f`` has the field's type, is finite, satisfies its rule and, if secret, its minimum."""
    kind = typing.get_type_hints(cls)[f.name]
    optional = typing.get_origin(kind) in (typing.Union, types.UnionType)
    if value is None:
        assert optional, f"{f.metadata['env']} read as None"
        return
    allowed = tuple(a for a in typing.get_args(kind) if a is not type(None)) if optional else \
        (typing.get_origin(kind) or kind,)
    assert isinstance(value, allowed) and not (isinstance(value, bool) and bool not in allowed), (f.metadata["env"], value)
    if isinstance(value, tuple):
        assert all(isinstance(item, str) and item.strip() for item in value), (f.metadata["env"], value)
    if isinstance(value, float):
        assert math.isfinite(value)
    rule = f.metadata["rule"]
    if rule is not None and value != f.default:
        assert rule.check(value), (f.metadata["env"], value)
    if isinstance(value, str):
        value.encode("utf-8")  # no lone surrogate got through
        assert "\x00" not in value
    if f.metadata["secret"] and value:
        assert len(value.strip()) >= f.metadata["min_length"], f.metadata["env"]


@pytest.mark.parametrize(("cls", "f"), CASES, ids=[f"{c.__name__}.{f.name}" for c, f in CASES])
@FAST
@given(text=values)
def test_every_field_reads_a_valid_value_or_names_itself_in_a_config_error(cls: type, f: Field[Any], text: str) -> None:
    name = f.metadata["env"]
    try:
        instance = READERS[cls]({name: text})
    except ConfigError as exc:
        assert name in str(exc), str(exc)
        assert "\n" not in str(exc), "one line"
        return
    assert_follows_rule(cls, f, getattr(instance, f.name))


ALL_NAMES = sorted({f.metadata["env"] for _, f in CASES} - {"GITHUB_APP_PRIVATE_KEY_PATH"})


@FAST
@given(env=st.dictionaries(st.sampled_from(ALL_NAMES), values, max_size=6))
def test_the_whole_configuration_reads_or_fails_with_a_config_error_naming_a_variable(env: dict[str, str]) -> None:
    try:
        config = Config.from_env(env)
    except ConfigError as exc:  # naming a variable set wrong, or one missing beside it (Azure ML's)
        assert any(name in str(exc) for name in env) or any(name in str(exc) for name in _REQUIRED), str(exc)
        return
    for part, cls in ((config.settings, Settings), (config.settings.training, TrainingArguments),
                      (config.app, AppSettings), (config.storage, StorageSettings), (config.dashboard, DashboardSettings),
                      (config.github, GitHubSettings), (config.telemetry, TelemetrySettings)):
        for f in env_fields(cls):
            assert_follows_rule(cls, f, getattr(part, f.name))


@FAST
@given(data=st.dictionaries(st.sampled_from([f.name for f in fields(TrainingArguments)] + ["nope"]),
                            st.one_of(st.none(), st.booleans(), st.integers(min_value=-(10**400), max_value=10**400),
                                      st.floats(), st.text(alphabet=st.characters(codec=None, exclude_categories=())),
                                      st.lists(st.integers(), max_size=2)), max_size=4))
def test_training_arguments_from_json_values_are_checked_like_the_environment(data: dict[str, Any]) -> None:
    try:
        arguments = TrainingArguments.from_mapping(data)
    except ConfigError:
        return
    for f in env_fields(TrainingArguments):
        assert_follows_rule(TrainingArguments, f, getattr(arguments, f.name))


@pytest.mark.parametrize("text", ["[" * 100_000, '{"epochs": ' * 50_000, '{"seed": 1' + "0" * 5000 + "}",
                                  '{"epochs": NaN}', '{"epochs": Infinity}', '{"epochs": 1e999}', "[]", "null",
                                  '{"seed": 1e400}', '{"epochs": 1' + "0" * 400 + "}"])
def test_training_arguments_json_never_raises_anything_but_config_error(text: str) -> None:
    with pytest.raises(ConfigError):
        TrainingArguments.from_json(text)


def test_the_settings_cover_every_class_the_app_reads() -> None:
    assert {type(getattr(Config(), f.name)) for f in fields(Config)} - {type(None)} <= set(READERS)
    assert len(CASES) >= 50


@pytest.mark.parametrize("data", [{"seed": 10**5000}, {"epochs": 10**5000}, {"max_tokens": -(10**5000)},
                                  {"base_model": "\udcff"}, {"epochs": True}, {"seed": 1.0}, {"nope": 1}])
def test_training_arguments_with_huge_or_odd_values_raise_config_error(data: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=f"(?i){next(iter(data))}"):
        TrainingArguments.from_mapping(data)


@pytest.mark.parametrize(("cls", "f"), [(cls, f) for cls, f in CASES if f.default is None and not f.metadata["secret"]],
                         ids=lambda x: getattr(x, "name", getattr(x, "__name__", "")))
@pytest.mark.parametrize("blank", ["", "  "])
def test_an_optional_setting_left_blank_is_unset(cls: type, f: Field[Any], blank: str) -> None:
    """azd renders an unset parameter (GITHUB_APP_INSTALLATION_ID=${GITHUB_APP_INSTALLATION_ID=}) as an empty app
    setting: it must read as absent, not fail as 'expected a whole number'."""
    reader = READERS[cls]
    assert getattr(reader({f.metadata["env"]: blank}), f.name) is None
