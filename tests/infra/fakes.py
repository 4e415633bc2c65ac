"""Stand-ins for the command-line tools the azd hooks call: ``az``, ``azd``, ``sleep``.

The hooks reach Azure only through ``"$AZ"`` / ``"$AZD"`` (``infra/hooks/require.sh``), so a directory with these
fakes first on the PATH runs them offline. A fake answers each call by the first rule whose regular expression is
found in its arguments joined by spaces; a rule's answers are used in turn (the last one repeats), which scripts
"fails twice, then succeeds". Every call is logged, one line each, and so is the content of a ``--file``.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FAKE = r'''#!PYTHON
import json, re, sys
from pathlib import Path

state = Path(STATE)
line = " ".join(sys.argv[1:])
with open(state / "calls.log", "a", encoding="utf-8") as log:
    log.write(line + "\n")
    if "--file" in sys.argv:
        path = Path(sys.argv[sys.argv.index("--file") + 1])
        if path.is_file():
            log.write("file: " + path.read_text(encoding="utf-8").replace("\n", "\\n") + "\n")
counts_file = state / "counts.json"
counts = json.loads(counts_file.read_text()) if counts_file.exists() else {}
for number, rule in enumerate(json.loads((state / "rules.json").read_text())):
    if re.search(rule["match"], line):
        used = counts.get(str(number), 0)
        counts[str(number)] = used + 1
        counts_file.write_text(json.dumps(counts))
        answer = rule["answers"][min(used, len(rule["answers"]) - 1)]
        sys.stdout.write(answer.get("stdout", ""))
        sys.stderr.write(answer.get("stderr", ""))
        sys.exit(answer.get("exit", 0))
sys.stderr.write("fake NAME: no rule for: " + line + "\n")
sys.exit(2)
'''

SLEEP = """#!/bin/sh
echo "$*" >> "LOG"
"""


def answer(stdout: str = "", *, stderr: str = "", exit: int = 0) -> dict[str, Any]:  # noqa: A002 - a field name
    """One canned answer: what the fake prints and its exit status (tsv output ends with a newline, as az's does)."""
    if stdout and not stdout.endswith("\n"):
        stdout += "\n"
    return {"stdout": stdout, "stderr": stderr, "exit": exit}


@dataclass
class Fake:
    """A fake command: its log of calls."""

    state: Path

    def calls(self) -> list[str]:
        log = self.state / "calls.log"
        return log.read_text(encoding="utf-8").splitlines() if log.exists() else []


def install(bin_dir: Path, name: str, rules: list[tuple[str, dict[str, Any] | list[dict[str, Any]]]]) -> Fake:
    """Write the fake ``name`` into ``bin_dir`` with these (regex, answer or answers) rules."""
    state = bin_dir.parent / f"{name}-state"
    state.mkdir(parents=True, exist_ok=True)
    (state / "rules.json").write_text(json.dumps([
        {"match": match, "answers": answers if isinstance(answers, list) else [answers]} for match, answers in rules]))
    (state / "counts.json").unlink(missing_ok=True)
    (state / "calls.log").unlink(missing_ok=True)
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / name
    script.write_text(FAKE.replace("PYTHON", sys.executable).replace("STATE", repr(str(state)))
                      .replace("NAME", name))
    script.chmod(0o755)
    return Fake(state)


def install_sleep(bin_dir: Path) -> Path:
    """A ``sleep`` that returns at once and logs its argument; returns the log's path."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    log = bin_dir.parent / "sleep.log"
    log.unlink(missing_ok=True)
    script = bin_dir / "sleep"
    script.write_text(SLEEP.replace("LOG", str(log)))
    script.chmod(0o755)
    return log


def sleeps(log: Path) -> list[int]:
    """The seconds each call of the fake sleep asked for."""
    return [int(line) for line in log.read_text().split()] if log.exists() else []


def hook_env(bin_dir: Path, **values: str) -> dict[str, str]:
    """The environment of a hook run: the fakes first on the PATH, no AZ/AZD overrides, and these values."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "TRIAGE_", "DASHBOARD_", "AZ", "SMOKE"))}
    env["PATH"] = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
    env.update(values)
    return env
