"""The scrape's state and the pure decisions about it: which run to start, where the next page is, whether a page
joins up with what was read before, and the request budget of one call.

A run walks the issue list least recently updated first from a ``since`` cursor that moves to the last
``updated_at`` stored, so an issue updated, deleted or transferred meanwhile cannot make the walk skip
another. Where more than a page of issues share one ``updated_at``, and in the repository-wide event list
(newest first, page numbers only), successive pages *overlap* by at least one item: page-number paging
cannot express that with one page size, so the size varies (:func:`next_window`), and a page that does not
join up with the last item read (:func:`joins`) means items shifted: the walk steps back instead of
skipping them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from triage.ports.github import PER_PAGE

CURSOR_ID = "scrape"
STATE_VERSION = 2  # cursors of older versions (no per-issue ``events_at``) start over with a full run
RECONCILE_EVERY = timedelta(days=1)
Join = Literal["joined", "short", "gap"]


def plan_run(cursor: Mapping[str, Any], *, full: bool, now: datetime, reconcile_every: timedelta = RECONCILE_EVERY,
             per_page: int = PER_PAGE) -> dict[str, Any]:
    """The state of a new run.

    *Full* (a walk from the beginning that also finds deleted and transferred issues) when asked, on the
    first run, on a cursor of an older version, or when the last full walk is older than ``reconcile_every``;
    *incremental* (issues updated since the cursor) otherwise. The repository-wide event list is read on the
    first run and when asked (``full``); afterwards each issue's own events are fetched when they are due.
    """
    current = cursor.get("version") == STATE_VERSION and bool(cursor.get("since"))
    last = cursor.get("reconciled_at")
    due = not last or now - datetime.fromisoformat(str(last)) >= reconcile_every
    is_full = full or not current or due
    return {
        "version": STATE_VERSION,
        "mode": "full" if is_full else "incremental",
        "phase": "issues",
        "since": None if is_full else cursor["since"],
        "first_since": None if is_full else cursor["since"],
        "window": None,  # [page, per_page] while more than a page of issues share ``since``
        "anchor": None,  # the number of the last issue read in that window
        "walk": int(cursor.get("walks") or 0) + 1 if is_full else None,
        "repo_events": is_full and (full or not current),
        "events": {"window": [1, per_page], "anchor": None},
        "pending": None,
        "per_page": per_page,
    }


def next_window(start: int, count: int, limit: int = PER_PAGE) -> tuple[int, int, bool]:
    """``(page, per_page, overlaps)`` of the page after the ``count`` items read from offset ``start``: the one
    that still holds the last of them and reaches furthest. Only if every size up to ``limit`` ends a page exactly
    there (never for 100: the least common multiple of 1..100 is astronomical) does the page start just after
    it, without overlap (``overlaps`` False)."""
    end = start + count - 1
    best: tuple[int, int, int] | None = None  # (reach, page, per_page)
    for size in range(limit, 0, -1):
        first = end // size * size
        if first + size > end + 1 and (best is None or first + size > best[0]):
            best = (first + size, first // size + 1, size)
    if best is None:
        return (end + 1) // limit + 1, limit, False
    return best[1], best[2], True


def step_back(start: int, limit: int = PER_PAGE) -> tuple[int, int]:
    """``(page, per_page)`` of a page that starts before offset ``start`` (items shifted towards the front)."""
    return max(0, start - 1) // limit + 1, limit


def joins(keys: Sequence[int], anchor: int | None, start: int, *, ordered: bool) -> Join:
    """Whether a page starting at offset ``start`` joins up with the last item read (``anchor``).

    ``ordered``: keys decrease down the list (event ids, newest first), so the page joins if it holds the
    anchor or a key above it next to one below; with ``ordered=False`` (issues sharing one ``updated_at``, in
    GitHub's unspecified order) only the anchor itself proves it. ``"short"``: the page lies wholly before the
    anchor (new items pushed the list down): read on without moving the anchor. ``"gap"``: items may have
    been skipped: step back.
    """
    if anchor is None or start == 0 or anchor in keys:
        return "joined"
    if not ordered or not keys:
        return "gap"
    if min(keys) > anchor:
        return "short"
    return "joined" if max(keys) > anchor else "gap"


@dataclass
class Budget:
    """What one call may spend: GitHub requests (``pages``) and seconds; None is unlimited."""

    pages: int | None = None
    seconds: float | None = None
    clock: Callable[[], float] = time.monotonic
    spent: int = 0
    _started: float | None = field(default=None, repr=False)

    def take(self) -> bool:
        """Count one request and return True, or False (counting nothing) once the budget is spent."""
        if self._started is None:
            self._started = self.clock()
        if self.pages is not None and self.spent >= self.pages:
            return False
        if self.seconds is not None and self.spent and self.clock() - self._started >= self.seconds:
            return False
        self.spent += 1
        return True

    def late(self) -> bool:
        """True once half the seconds are spent: a slow last step (the snapshot) is left to the next call."""
        return self.seconds is not None and self._started is not None and \
            self.clock() - self._started >= self.seconds / 2
