"""Cleaning cost per issue body: hostile bodies at GitHub's limit of 65,536 characters, and real ones.

    python -m benchmarks.cleaning [--size 65536] [--repeats 3] [--issues data/corefx-area/issues.jsonl]
                                  [--module PATH] [--timeout 60] [--json out/bench.json]

Each hostile generator fills ``--size`` characters with what one cleaning pattern cares about (runs of
spaces after ``at a``, unclosed brackets, blank lines, unclosed frames...). For each generator and each
entry point (``issue_text``, ``clean_body``, ``lexical_text``) it reports the least seconds per body
over ``--repeats`` runs; the worst over generators is the headline, the median the typical hostile
body. Real bodies (the issues file): the mean and the largest seconds per body. ``--module`` times
another file with the same functions (the module before a change, say); a measurement longer than
``--timeout`` seconds is stopped and reported as over it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import signal
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

from benchmarks.common import machine, table, write_json

ROOT = Path(__file__).resolve().parent.parent
ENTRY_POINTS = ("issue_text", "clean_body", "lexical_text")
TOKENS = [" ", "\t", "\n", "at ", " at ", "a", "(", ")", "[", "]", "!", ":", "1", " in ", ":line ", 'File "', ", line ",
          "- [ ] ", "`", "```", "<!--", "-->", "http://", "0x", "deadbeef", "](", "\u00a0", "\U0001f600"]


def _fill(unit: str, n: int) -> str:
    return unit * max(1, n // len(unit))


def _token_soup(n: int) -> str:
    pick = random.Random(0).choice
    return "".join(pick(TOKENS) for _ in range(n // 4))[:n]


GENERATORS: dict[str, Callable[[int], str]] = {
    "frame line, spaces after at a": lambda n: "at a" + " " * (n - 5) + "!",
    "frame lines, 200 spaces each": lambda n: _fill("at a" + " " * 200 + "!\n", n),
    "frame, path without a colon": lambda n: "at a(" + "a" * n + ")",
    "frame, spaces after it": lambda n: "at a(x)" + " " * n + "x",
    "frame, many closing parens": lambda n: "at a(" + ")" * n + "x",
    "frame, in after in": lambda n: "at a() in " + _fill(" in", n),
    "frame without parens, in after in": lambda n: "at a~" + _fill(" in x~", n),
    "frames inline, never closed": lambda n: _fill(" at a(", n),
    "frames inline, runs of three": lambda n: _fill(" at a() at b() at c() x", n),
    "frames inline, one long run": lambda n: _fill(" at A.B(Int32 x) in /src/a.cs:line 1", n),
    "frames inline, spaces inside": lambda n: "x at a(" + " " * n + ")",
    "python frames": lambda n: _fill('  File "/srv/a.py", line 1, in f\n    f()\n', n),
    "File quote, never closed": lambda n: _fill('File "', n),
    "link, never closed": lambda n: "[" * n,
    "link target, never closed": lambda n: _fill("[a](http://", n),
    "image, never closed": lambda n: _fill("![", n),
    "image target, never closed": lambda n: _fill("![a](", n),
    "blank lines": lambda n: "\n" * n + "x",
    "checkbox lines": lambda n: _fill("- [ ] I searched\n", n),
    "bare checkbox lines": lambda n: _fill("- [ ]\n", n),
    "comment, never closed": lambda n: _fill("<!--", n),
    "fences": lambda n: _fill("```", n),
    "urls": lambda n: _fill("http://", n),
    "hex run, then a letter": lambda n: "0x" + "a" * n + "g",
    "digits, then a letter": lambda n: "1" * n + "a",
    "no-break spaces between lines": lambda n: _fill("\n\u00a0", n),
    "emoji": lambda n: "\U0001f600" * n,
    "token soup": _token_soup,
}


class _TimedOut(Exception):
    pass


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise _TimedOut


def _call(module: ModuleType, name: str) -> Callable[[str], object]:
    fn = getattr(module, name)
    return (lambda body: fn(body)) if name == "clean_body" else (lambda body: fn("Title", body))


def seconds_per_body(clean: Callable[[str], object], body: str, repeats: int, timeout: float) -> float | None:
    """Least wall-clock seconds of one call over ``repeats`` runs; None past ``timeout`` seconds in all."""
    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        best = float("inf")
        for _ in range(repeats):
            started = time.perf_counter()
            clean(body)
            best = min(best, time.perf_counter() - started)
        return best
    except _TimedOut:
        return None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def load(path: str | None) -> ModuleType:
    """The cleaning module to time: the project's, or the file at ``path``."""
    if not path:
        from triage.domain import cleaning

        return cleaning
    spec = importlib.util.spec_from_file_location("cleaning_under_test", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"{path} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def measure(module: ModuleType, size: int, repeats: int, issues: Path, timeout: float) -> dict[str, Any]:
    """Hostile bodies per generator and entry point, real bodies' mean and largest seconds per body."""
    hostile: dict[str, dict[str, float | None]] = {}
    for name, make in GENERATORS.items():
        body = make(size)
        hostile[name] = {fn: seconds_per_body(_call(module, fn), body, repeats, timeout) for fn in ENTRY_POINTS}
    bodies = [json.loads(line).get("body") or "" for line in issues.read_text(encoding="utf-8").splitlines() if line]
    real: dict[str, dict[str, float]] = {}
    for fn in ENTRY_POINTS:
        clean = _call(module, fn)
        measured = (seconds_per_body(clean, body, 1, timeout) for body in bodies)
        times = [timeout if seconds is None else seconds for seconds in measured]
        real[fn] = {"mean_s": statistics.fmean(times), "max_s": max(times)}
    worst = {fn: max((h[fn] for h in hostile.values() if h[fn] is not None), default=None) for fn in ENTRY_POINTS}
    timed_out = sorted(f"{name}: {fn}" for name, h in hostile.items() for fn in ENTRY_POINTS if h[fn] is None)
    return {
        "size": size, "repeats": repeats, "module": getattr(module, "__file__", None), "timeout_s": timeout,
        "worst_s": None if timed_out else max(v for v in worst.values() if v is not None),
        "worst_generator": max(hostile, key=lambda g: max(v if v is not None else float("inf") for v in hostile[g].values())),
        "worst_by_entry_point_s": worst,
        "median_hostile_s": {fn: statistics.median(h[fn] if h[fn] is not None else timeout for h in hostile.values())
                             for fn in ENTRY_POINTS},
        "timed_out": timed_out, "hostile": hostile,
        "real": {"issues": len(bodies), "mean_chars": statistics.fmean(map(len, bodies)) if bodies else 0, **real},
        "machine": machine(),
    }


def _ms(value: float | None, timeout: float) -> str:
    return f"> {timeout * 1000:.0f}" if value is None else f"{value * 1000:.3f}"


def report(result: dict[str, Any]) -> str:
    """The result as tables, in milliseconds per body."""
    timeout = result["timeout_s"]
    rows = [[name, *(_ms(h[fn], timeout) for fn in ENTRY_POINTS)] for name, h in result["hostile"].items()]
    rows.append(["worst hostile", *(_ms(result["worst_by_entry_point_s"][fn], timeout) for fn in ENTRY_POINTS)])
    rows.append(["median hostile", *(_ms(result["median_hostile_s"][fn], timeout) for fn in ENTRY_POINTS)])
    real = result["real"]
    rows.append([f"real bodies: mean ({real['issues']})", *(_ms(real[fn]["mean_s"], timeout) for fn in ENTRY_POINTS)])
    rows.append(["real bodies: largest", *(_ms(real[fn]["max_s"], timeout) for fn in ENTRY_POINTS)])
    header = [f"ms per body ({result['size']:,} chars hostile)", *ENTRY_POINTS]
    return table(rows, header)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cleaning", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=65_536, help="characters per hostile body (GitHub's limit)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement; the least is reported")
    parser.add_argument("--issues", default=str(ROOT / "data" / "corefx-area" / "issues.jsonl"), help="real issues (JSON lines)")
    parser.add_argument("--module", help="time this file's issue_text, clean_body and lexical_text instead")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds before a measurement is given up")
    parser.add_argument("--json", help="merge the results into this JSON file under 'cleaning'")
    args = parser.parse_args(argv)
    issues = Path(args.issues)
    if not issues.is_file():
        parser.error(f"{issues} does not exist")
    result = measure(load(args.module), args.size, max(1, args.repeats), issues, args.timeout)
    print(report(result))
    worst = result["worst_s"]
    print(f"\nworst hostile body: {_ms(worst, args.timeout)} ms ({result['worst_generator']})")
    write_json(args.json, "cleaning", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
