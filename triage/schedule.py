"""Five-field cron expressions (UTC) for a repository's own training schedule.

Fields: minute, hour, day of month, month, day of week (0-7, Sunday is 0 or 7); each a ``*``,
a number, a range ``a-b``, a step ``*/n`` or ``a-b/n``, or a comma-separated list of these.
As in cron, when both day fields are restricted a time matches if either matches.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from .errors import ConfigError

_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))


def _field(text: str, low: int, high: int, expression: str) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if body == "*":
                start, end = low, high
            elif "-" in body:
                start, end = (int(x) for x in body.split("-", 1))
            else:
                start = end = int(body)
        except ValueError:
            raise ConfigError(f"cron expression {expression!r}: {part!r} is not a number, range or step") from None
        if step < 1 or not low <= start <= end <= high:
            raise ConfigError(f"cron expression {expression!r}: {part!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


class Cron:
    """A parsed cron expression."""

    def __init__(self, expression: str) -> None:
        fields = expression.split()
        if len(fields) != 5:
            raise ConfigError(f"cron expression {expression!r} must have 5 fields (minute hour day month weekday)")
        self.expression = expression
        self.minutes, self.hours, self.days, self.months, weekdays = (
            _field(text, low, high, expression) for text, (low, high) in zip(fields, _RANGES))
        self.weekdays = frozenset(d % 7 for d in weekdays)
        self._any_day, self._any_weekday = fields[2] == "*", fields[4] == "*"

    def matches(self, at: datetime) -> bool:
        """Whether the minute ``at`` is a fire time."""
        if at.minute not in self.minutes or at.hour not in self.hours or at.month not in self.months:
            return False
        day, weekday = at.day in self.days, (at.isoweekday() % 7) in self.weekdays
        if self._any_day or self._any_weekday:
            return day and weekday
        return day or weekday

    def last_fire(self, now: datetime, horizon: timedelta = timedelta(days=32)) -> datetime | None:
        """The latest fire time at or before ``now`` within ``horizon``, or None."""
        at = now.replace(second=0, microsecond=0)
        end = at - horizon
        while at > end:
            if self.matches(at):
                return at
            at -= timedelta(minutes=1) if at.hour in self.hours else timedelta(minutes=at.minute + 1)
        return None
