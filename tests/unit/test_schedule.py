"""Cron expressions of a repository's own training schedule."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from triage.domain.errors import ConfigError
from triage.domain.repo_config import parse_repo_config
from triage.domain.schedule import Cron


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def test_fields_ranges_steps_and_lists() -> None:
    cron = Cron("*/15 2-4 * * 1-5")
    assert cron.matches(at("2026-11-24T03:45"))  # a Tuesday
    assert not cron.matches(at("2026-11-24T03:50")) and not cron.matches(at("2026-11-24T05:00"))
    assert not cron.matches(at("2026-11-22T03:45"))  # Sunday
    assert Cron("0 3 * * 7").matches(at("2026-11-22T03:00")) and Cron("0 3 * * 0").matches(at("2026-11-22T03:00"))
    assert Cron("0 0 1,15 * *").matches(at("2026-11-15T00:00"))


def test_both_day_fields_restricted_means_either() -> None:
    cron = Cron("0 6 1 * 1")  # the 1st of the month, or any Monday
    assert cron.matches(at("2026-11-01T06:00")) and cron.matches(at("2026-11-23T06:00"))
    assert not cron.matches(at("2026-11-24T06:00"))


def test_last_fire_looks_back_to_the_latest_match() -> None:
    assert Cron("0 3 * * 0").last_fire(at("2026-11-24T10:17")) == at("2026-11-22T03:00")
    assert Cron("30 * * * *").last_fire(at("2026-11-24T10:30:59")) == at("2026-11-24T10:30")
    assert Cron("0 0 29 2 *").last_fire(at("2026-11-24T00:00")) is None  # beyond the 32-day horizon


@pytest.mark.parametrize("expression", ["61 * * * *", "* * 0 * *", "*/0 * * * *", "5-1 * * * *", "a * * * *", "* * *"])
def test_bad_expressions_are_refused(expression: str) -> None:
    with pytest.raises(ConfigError, match="cron expression"):
        Cron(expression)


def test_the_repository_config_checks_its_schedule() -> None:
    assert parse_repo_config("").schedule is None
    with pytest.raises(ConfigError, match="training.schedule.*Bad hour"):
        parse_repo_config('training: {schedule: "0 24 * * *"}')
