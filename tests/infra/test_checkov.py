"""checkov scans infra/ (Bicep) offline and finds no failed check; every skip carries its reason.

checkov runs from its own virtual environment (.venv/checkov, installed by `make test`): its many pinned
dependencies would clash with the app's. Suppressions live in the templates as
`//checkov:skip=CKV_AZURE_n:reason` lines inside the resource they concern.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECKOV = ROOT / ".venv" / "checkov" / "bin" / "checkov"

# Offline: no Prisma Cloud download (--skip-download, BC_SKIP_MAPPING), no PyPI version check
# (CKV_SKIP_PACKAGE_UPDATE_CHECK), and a proxy nobody listens on, so any other attempt fails at once instead of waiting.
OFFLINE = {
    "BC_SKIP_MAPPING": "TRUE",
    "CKV_SKIP_PACKAGE_UPDATE_CHECK": "TRUE",
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "NO_PROXY": "",
    "LOG_LEVEL": "WARNING",
}


@pytest.fixture(scope="module")
def report() -> dict:
    """checkov's JSON report of infra/."""
    if not CHECKOV.exists():
        pytest.skip("checkov is not installed: `make test` installs it into .venv/checkov")
    result = subprocess.run(
        [str(CHECKOV), "--directory", "infra", "--framework", "bicep", "--skip-download", "--compact",
         "--output", "json"],
        cwd=ROOT, env={**os.environ, **OFFLINE}, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode in (0, 1), f"checkov failed to run ({result.returncode}):\n{result.stderr[-3000:]}"
    report = json.loads(result.stdout)
    assert isinstance(report, dict) and report["check_type"] == "bicep", result.stdout[:500]
    return report


def test_checkov_parses_every_template(report: dict) -> None:
    templates = {p.relative_to(ROOT / "infra").as_posix() for p in (ROOT / "infra").rglob("*.bicep")}
    assert report["summary"]["parsing_errors"] == 0, report["results"]["parsing_errors"]
    scanned = {c["file_path"].lstrip("/") for kind in ("passed_checks", "skipped_checks")
               for c in report["results"][kind]}
    assert scanned <= templates and "main.bicep" not in scanned  # main.bicep holds only the group and modules
    assert report["summary"]["passed"] >= 30


def test_checkov_finds_no_failed_check(report: dict) -> None:
    failed = [f"{c['check_id']} {c['check_name']} ({c['file_path']} {c['resource']})"
              for c in report["results"]["failed_checks"]]
    assert report["summary"]["failed"] == 0 and not failed, "\n".join(failed)


def test_every_suppression_says_why(report: dict) -> None:
    for check in report["results"]["skipped_checks"]:
        reason = check["check_result"].get("suppress_comment", "")
        assert len(reason) > 30 and reason != "No comment provided", f"{check['check_id']} {check['resource']}"
