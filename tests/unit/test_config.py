"""Tests of triage.app.settings.Settings: defaults, parsing and validation of TRIAGE_* variables."""

from __future__ import annotations

import math
import secrets
from pathlib import Path

import pytest

from tests.conftest import ROOT
from triage.app.settings import Config, Settings, reference
from triage.domain.errors import ConfigError, InputError


def test_defaults_without_environment() -> None:
    s = Settings.from_env({})
    assert s == Settings()
    assert s.home == Path(".triage")
    assert s.blob_root == Path(".triage/blobs") and s.database == Path(".triage/triage.db")
    assert (s.target_precision, s.min_examples, s.max_labels) == (0.9, 5, 1)
    assert (s.test_fraction, s.validation_fraction) == (0.15, 0.15)
    assert s.allow_labels == () and s.deny_labels == ()
    assert s.dry_run is True
    assert s.bot_login == "issue-triage[bot]"
    assert (s.training.max_tokens, s.training.batch_size, s.seed) == (128, 16, 42)


def test_from_env_ignores_unrelated_variables() -> None:
    assert Settings.from_env({"PATH": "/bin", "TRIAGE": "x", "triage_min_examples": "9"}) == Settings()


def test_env_parsing_of_each_type() -> None:
    s = Settings.from_env({
        "TRIAGE_HOME": "/var/triage",
        "TRIAGE_TARGET_PRECISION": "0.75",
        "TRIAGE_MIN_EXAMPLES": " 12 ",
        "TRIAGE_ALLOW_LABELS": " area-Net, area-IO ,,area-Xml ,",
        "TRIAGE_DENY_LABELS": "wontfix",
        "TRIAGE_MAX_LABELS": "2",
        "TRIAGE_DRY_RUN": "false",
        "TRIAGE_BOT_LOGIN": "my-bot",
        "TRIAGE_EPOCHS": "2.5",
        "TRIAGE_LEARNING_RATE": "3e-5",
    })
    assert s.home == Path("/var/triage") and s.blob_root == Path("/var/triage/blobs")
    assert s.target_precision == 0.75 and isinstance(s.target_precision, float)
    assert s.min_examples == 12 and isinstance(s.min_examples, int)
    assert s.allow_labels == ("area-Net", "area-IO", "area-Xml")
    assert s.deny_labels == ("wontfix",)
    assert s.max_labels == 2
    assert s.dry_run is False
    assert s.bot_login == "my-bot"
    assert s.training.epochs == 2.5 and s.training.learning_rate == pytest.approx(3e-5)


@pytest.mark.parametrize(("text", "value"), [
    ("1", True), ("true", True), ("TRUE", True), (" yes ", True), ("on", True),
    ("0", False), ("false", False), ("No", False), ("off", False),
])
def test_bool_parsing(text: str, value: bool) -> None:
    assert Settings.from_env({"TRIAGE_DRY_RUN": text}).dry_run is value


def test_empty_label_list_means_no_list() -> None:
    assert Settings.from_env({"TRIAGE_ALLOW_LABELS": " , ,"}).allow_labels == ()


@pytest.mark.parametrize(("var", "text"), [
    ("TRIAGE_TARGET_PRECISION", "high"),
    ("TRIAGE_TARGET_PRECISION", ""),
    ("TRIAGE_MIN_EXAMPLES", "5.5"),
    ("TRIAGE_MIN_EXAMPLES", "five"),
    ("TRIAGE_MAX_LABELS", ""),
    ("TRIAGE_DRY_RUN", "maybe"),
    ("TRIAGE_DRY_RUN", ""),
    ("TRIAGE_BATCH_SIZE", "16x"),
])
def test_invalid_values_raise_config_error_naming_variable(var: str, text: str) -> None:
    with pytest.raises(ConfigError, match=var) as info:
        Settings.from_env({var: text})
    assert isinstance(info.value, InputError)
    assert repr(text) in str(info.value)


@pytest.mark.parametrize(("var", "text"), [
    ("TRIAGE_TARGET_PRECISION", "0"),
    ("TRIAGE_TARGET_PRECISION", "1.5"),
    ("TRIAGE_TARGET_PRECISION", "1.0"),
    ("TRIAGE_TARGET_PRECISION", "nan"),
    ("TRIAGE_MIN_EXAMPLES", "0"),
    ("TRIAGE_TEST_FRACTION", "0"),
    ("TRIAGE_TEST_FRACTION", "0.5"),
    ("TRIAGE_VALIDATION_FRACTION", "-0.1"),
    ("TRIAGE_MAX_LABELS", "0"),
    ("TRIAGE_MAX_TOKENS", "8"),
    ("TRIAGE_MAX_TOKENS", "1024"),
    ("TRIAGE_EPOCHS", "0"),
    ("TRIAGE_BATCH_SIZE", "0"),
    ("TRIAGE_LEARNING_RATE", "1"),
    ("TRIAGE_BUDGET_MINUTES", "-5"),
])
def test_out_of_range_values_raise_config_error(var: str, text: str) -> None:
    with pytest.raises(ConfigError, match=var):
        Settings.from_env({var: text})


@pytest.mark.parametrize(("var", "text"), [
    ("TRIAGE_TARGET_PRECISION", "0.99"),
    ("TRIAGE_MIN_EXAMPLES", "1"),
    ("TRIAGE_TEST_FRACTION", "0.49"),
    ("TRIAGE_MAX_TOKENS", "16"),
    ("TRIAGE_MAX_TOKENS", "512"),
])
def test_boundary_values_are_accepted(var: str, text: str) -> None:
    Settings.from_env({var: text})


def test_overlap_of_allow_and_deny_lists() -> None:
    with pytest.raises(ConfigError, match="area-IO") as info:
        Settings.from_env({"TRIAGE_ALLOW_LABELS": "area-Net,area-IO", "TRIAGE_DENY_LABELS": "area-IO,wontfix"})
    assert "TRIAGE_ALLOW_LABELS" in str(info.value) and "TRIAGE_DENY_LABELS" in str(info.value)


def test_overrides_win_over_environment_and_are_validated() -> None:
    env = {"TRIAGE_MIN_EXAMPLES": "3", "TRIAGE_MAX_LABELS": "2"}
    s = Settings.from_env(env, min_examples=8, max_labels=None)
    assert s.min_examples == 8 and s.max_labels == 2  # None means "not given"
    with pytest.raises(ConfigError, match="TRIAGE_TARGET_PRECISION"):
        Settings.from_env({}, target_precision=2.0)
    with pytest.raises(ConfigError, match="both"):
        Settings.from_env({"TRIAGE_DENY_LABELS": "x"}, allow_labels=("x",))


def test_settings_are_frozen() -> None:
    s = Settings()
    with pytest.raises(AttributeError):
        s.min_examples = 3  # type: ignore[misc]


def test_the_configuration_reference_is_generated_from_the_settings_classes() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    begin, end = "<!-- BEGIN GENERATED SETTINGS -->\n", "<!-- END GENERATED SETTINGS -->"
    assert text[text.index(begin) + len(begin):text.index(end)] == reference(), (
        "docs/configuration.md is out of date: paste the output of `python -m triage.app.settings` between the markers")
    for variable in ("TRIAGE_WEBHOOK_SECRET", "TRIAGE_EPOCHS", "GITHUB_APP_ID", "TRIAGE_AML_WORKSPACE",
                     "APPLICATIONINSIGHTS_CONNECTION_STRING", "TRIAGE_DASHBOARD_TOKEN"):
        assert f"`{variable}`" in reference()


# --- issue #13, item 16: secrets long enough, every number finite and in range, at start-up ---------------------

@pytest.mark.parametrize("variable", ["TRIAGE_WEBHOOK_SECRET", "TRIAGE_DASHBOARD_TOKEN", "TRIAGE_DASHBOARD_SECRET"])
@pytest.mark.parametrize("value", [" ", "        \t        ", "x", "a", "short-secret", "a" * 64, "ab" * 16,
                                   "\u00a0" * 20, "a b c d e f g h "])
def test_weak_secrets_are_refused_at_start_up(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable) as info:
        Config.from_env({variable: value})
    assert "openssl rand" in str(info.value)
    assert len(value.strip()) < 5 or value.strip() not in str(info.value), "a secret is never shown"


@pytest.mark.parametrize("variable", ["TRIAGE_WEBHOOK_SECRET", "TRIAGE_DASHBOARD_TOKEN", "TRIAGE_DASHBOARD_SECRET"])
def test_random_secrets_are_accepted(variable: str) -> None:
    for value in (secrets.token_hex(32), secrets.token_urlsafe(24), "e2e-secret-0123456789abcdef"):
        config = Config.from_env({variable: value})
        assert value in (config.app.webhook_secret, config.dashboard.token, config.dashboard.secret)


@pytest.mark.parametrize(("variable", "text"), [
    ("TRIAGE_MIN_IMPROVEMENT", "nan"),
    ("TRIAGE_MIN_IMPROVEMENT", "-inf"),
    ("TRIAGE_MIN_IMPROVEMENT", "5"),
    ("TRIAGE_EPOCHS", "inf"),
    ("TRIAGE_EPOCHS", "1e999"),
    ("TRIAGE_BUDGET_MINUTES", "inf"),
    ("TRIAGE_BUDGET_MINUTES", "1e9"),
    ("TRIAGE_TRAINING_DEADLINE_MINUTES", "nan"),
    ("TRIAGE_TRAINING_DEADLINE_MINUTES", "inf"),
    ("TRIAGE_TRAINING_POLL_SECONDS", "1e-9"),
    ("TRIAGE_TRAINING_POLL_SECONDS", "0"),
    ("TRIAGE_TRAINING_POLL_SECONDS", "nan"),
    ("TRIAGE_RETRAIN_AFTER", "0"),
    ("TRIAGE_RELABEL_BATCH", "1e3"),
    ("TRIAGE_TARGET_PRECISION", "\u0660.\u0669"),  # Arabic-Indic digits: float() reads them as 0.9
    ("TRIAGE_EPOCHS", "\u00b2"),
    ("TRIAGE_EPOCHS", "1_0"),
    ("TRIAGE_SEED", "\uff11\uff12"),
    ("TRIAGE_SEED", "9" * 5000),
    ("TRIAGE_ENCODER_LAYERS", "99999999"),
    ("TRIAGE_LIVE_WINDOW_DAYS", "99999"),
    ("TRIAGE_HOME", "bad\x00name"),
    ("TRIAGE_BOT_LOGIN", "\udcff-bot"),
    ("TRIAGE_STORAGE__blobServiceUri", "acct.blob.core.windows.net"),
])
def test_every_number_is_finite_and_in_range_and_text_is_utf8(variable: str, text: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        Config.from_env({variable: text, "TRIAGE_STORAGE__queueServiceUri": "https://a.queue.core.windows.net/"})


def test_a_nan_promotion_margin_can_no_longer_reach_the_gate() -> None:
    with pytest.raises(ConfigError, match="TRIAGE_MIN_IMPROVEMENT"):
        Settings.from_env({"TRIAGE_MIN_IMPROVEMENT": "nan"})
    with pytest.raises(ConfigError, match="TRIAGE_MIN_IMPROVEMENT"):
        Settings(min_improvement=math.nan)  # built in code: the same rules
    assert Settings.from_env({"TRIAGE_MIN_IMPROVEMENT": "0.05"}).min_improvement == 0.05


def test_polling_longer_than_the_deadline_is_refused() -> None:
    with pytest.raises(ConfigError, match="TRIAGE_TRAINING_POLL_SECONDS.*TRIAGE_TRAINING_DEADLINE_MINUTES"):
        Config.from_env({"TRIAGE_TRAINING_POLL_SECONDS": "3600", "TRIAGE_TRAINING_DEADLINE_MINUTES": "30"})
    app = Config.from_env({"TRIAGE_TRAINING_POLL_SECONDS": "5", "TRIAGE_TRAINING_DEADLINE_MINUTES": "1"}).app
    assert (app.poll_seconds, app.training_deadline_minutes) == (5.0, 1.0)


def test_triage_home_must_be_a_folder(tmp_path: Path) -> None:
    afile = tmp_path / "file"
    afile.write_text("x")
    for home in (afile, afile / "inside"):
        with pytest.raises(ConfigError, match="TRIAGE_HOME") as info:
            Settings.from_env({"TRIAGE_HOME": str(home)})
        assert "not a file" in str(info.value)
    with pytest.raises(ConfigError, match="TRIAGE_HOME"):
        Settings.from_env({}, home=afile)
    assert Settings.from_env({"TRIAGE_HOME": str(tmp_path / "new" / "home")}).home == tmp_path / "new" / "home"
    with pytest.raises(ConfigError, match="TRIAGE_HOME"):
        Settings.from_env({"TRIAGE_HOME": "x" * 5000})  # a name too long for the file system


def test_decimal_spellings_that_are_accepted() -> None:
    for text, value in (("0.5", 0.5), (" .5 ", 0.5), ("+3e-1", 0.3), ("1E-1", 0.1), ("2.", 2.0)):
        assert Settings.from_env({"TRIAGE_MIN_EXAMPLES": "1", "TRIAGE_EPOCHS": text}).training.epochs == pytest.approx(value)
