"""Cron schedules: one dialect everywhere, read by the maintained ``cronsim`` library.

Accepted: standard 5-field cron (minute hour day month weekday), the 6-field NCRONTAB the
Azure Functions host reads (a seconds field first), month and weekday names (``JAN``, ``SUN``),
ranges, steps and lists, ``L`` and ``#`` in the day fields, and the macros ``@yearly``,
``@annually``, ``@monthly``, ``@weekly``, ``@daily``, ``@midnight`` and ``@hourly``. As in cron,
when both day fields are restricted a time matches if either matches. The app's own timers
(``TRIAGE_SCRAPE_SCHEDULE``, ``TRIAGE_TRAIN_SCHEDULE``) are read by the host, which needs the
6-field form: ``host=True`` checks that.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cronsim import CronSim, CronSimError

from triage.domain.errors import ConfigError

MACROS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
          "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
_PROBE = datetime(2000, 1, 1)


class Cron:
    """A parsed cron expression (see the module docstring for the dialect)."""

    def __init__(self, expression: str, *, host: bool = False) -> None:
        if not isinstance(expression, str) or not expression.strip():
            raise ConfigError(f"cron expression {expression!r} is empty; use e.g. '0 3 * * 0' or '@weekly'")
        text = " ".join(expression.split())
        fields = text.split(" ")
        if host and len(fields) != 6:
            raise ConfigError(f"cron expression {expression!r} must have the 6 fields of the Functions host's NCRONTAB "
                              "(second minute hour day month weekday), for example '0 0 3 * * 0'")
        text = MACROS.get(text.lower(), text)
        if len(text.split(" ")) not in (5, 6):
            raise ConfigError(f"cron expression {expression!r} must have 5 fields (minute hour day month weekday), "
                              "6 with seconds first, or be a macro such as @weekly")
        try:
            CronSim(text, _PROBE)
        except (CronSimError, ValueError) as exc:
            raise ConfigError(f"cron expression {expression!r} is invalid: {exc}") from None
        self.expression = expression
        self._text = text

    def matches(self, at: datetime) -> bool:
        """Whether ``at`` (to the second; 5-field expressions fire at second 0) is a fire time."""
        at = at.replace(microsecond=0)
        return next(iter(CronSim(self._text, at - timedelta(seconds=1)))) == at

    def last_fire(self, now: datetime, horizon: timedelta = timedelta(days=32)) -> datetime | None:
        """The latest fire time at or before ``now`` within ``horizon``, or None."""
        start = now.replace(microsecond=0) + timedelta(seconds=1)
        try:
            fired = next(iter(CronSim(self._text, start, reverse=True)))
        except StopIteration:
            return None
        return fired if fired >= now - horizon else None
