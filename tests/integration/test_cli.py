"""The triage CLI end to end on real issues with a tiny encoder, and its errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from tests.unit.test_cli_inputs import json_lines_files
from triage.adapters.local.stores import LocalBlobStore
from triage.cli.main import main
from triage.domain.issues import Issue


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict | None, str]:
    """Run the CLI; return exit code, parsed JSON output (if any) and stderr."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    try:
        return code, json.loads(out), err
    except json.JSONDecodeError:
        return code, None, err


def export(issues: list[Issue], path: Path) -> Path:
    path.write_text("".join(json.dumps({"repo": i.repo, "number": i.number, "title": i.title, "body": i.body,
                                        "labels": list(i.labels)}) + "\n" for i in issues))
    return path


@pytest.fixture()
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tiny_encoder: Path) -> Path:
    home = tmp_path / "home"
    for key, value in {"TRIAGE_HOME": str(home), "TRIAGE_BASE_MODEL": str(tiny_encoder), "TRIAGE_EPOCHS": "1",
                       "TRIAGE_MAX_TOKENS": "32", "TRIAGE_BATCH_SIZE": "16", "TRIAGE_MIN_EXAMPLES": "8"}.items():
        monkeypatch.setenv(key, value)
    return home


def test_pipeline(env: Path, tmp_path: Path, corefx_issues: list[Issue], capsys: pytest.CaptureFixture[str]) -> None:
    history, new = corefx_issues[:300], corefx_issues[300:320]
    source = export(history, tmp_path / "issues.jsonl")
    code, out, _ = run_cli(capsys, "-q", "ingest", "--source", str(source))
    assert code == 0 and out["count"] == 300 and out["repo"] == "dotnet/corefx"

    code, out, _ = run_cli(capsys, "-q", "dataset", "--repo", "dotnet/corefx")
    assert code == 0 and out["mode"] == "single" and out["sizes"]["test"] > 0
    dataset_version = out["version"]

    code, first, _ = run_cli(capsys, "-q", "train", "--repo", "dotnet/corefx")
    assert code == 0 and Path(first["path"], "model.onnx").is_file()

    code, out, _ = run_cli(capsys, "-q", "promote", "--repo", "dotnet/corefx", "--model", first["model"])
    assert code == 0 and out["promoted"] is True and out["champion"] is None

    code, out, _ = run_cli(capsys, "-q", "evaluate", "--repo", "dotnet/corefx", "--out", str(tmp_path / "report"))
    assert code == 0 and 0 <= out["accuracy"] <= 1
    for name in ("report.html", "report.md", "confusion_matrix.png", "precision_coverage.png"):
        assert (tmp_path / "report" / name).stat().st_size > 0
    assert (tmp_path / "report" / "confusion_matrix.png").read_bytes().startswith(b"\x89PNG")

    code, out, _ = run_cli(capsys, "-q", "predict", "--repo", "dotnet/corefx", "HttpClient hangs", "on Linux")
    assert code == 0 and out["model"] == first["model"] and len(out["scores"]) == 5
    assert out["scores"][0]["score"] >= out["scores"][-1]["score"]

    code = main(["-q", "label", "--repo", "dotnet/corefx", "--source", str(export(new, tmp_path / "new.jsonl"))])
    *decisions, summary = [json.loads(line) for line in capsys.readouterr().out.splitlines()]  # one object a line
    assert code == 0 and summary["issues"] == len(decisions) == 20
    assert all(call["path"].startswith("/repos/dotnet/corefx/issues/") for d in decisions for call in d["calls"])

    # Rebuilding from the same issues gives the same dataset version (content-addressed).
    code, out, _ = run_cli(capsys, "-q", "dataset", "--repo", "dotnet/corefx")
    assert out["version"] == dataset_version


def test_missing_file_is_a_clear_error(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "ingest", "--source", "nope.jsonl")
    assert code == 2 and "nope.jsonl" in err and "does not exist" in err


def test_bad_format_is_a_clear_error(env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"repo": "a/b", "number": 1, "title": "x", "labels": []}\n{not json\n')
    code, _, err = run_cli(capsys, "ingest", "--source", str(bad))
    assert code == 2 and "bad.jsonl:2" in err
    assert not (env / "blobs" / "issues").exists(), "nothing may be written from a file that failed to parse"


def test_unknown_label_is_a_clear_error(env: Path, tmp_path: Path, corefx_issues: list[Issue],
                                        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    run_cli(capsys, "ingest", "--source", str(export(corefx_issues[:200], tmp_path / "i.jsonl")))
    monkeypatch.setenv("TRIAGE_ALLOW_LABELS", "area-System.Net,area-Nope")
    code, _, err = run_cli(capsys, "dataset", "--repo", "dotnet/corefx")
    assert code == 2 and "area-Nope" in err
    assert LocalBlobStore(env / "blobs").list("datasets/") == []


def test_empty_dataset_is_a_clear_error(env: Path, tmp_path: Path, corefx_issues: list[Issue],
                                        capsys: pytest.CaptureFixture[str]) -> None:
    unlabeled = [Issue(repo=i.repo, number=i.number, title=i.title, body=i.body) for i in corefx_issues[:50]]
    run_cli(capsys, "ingest", "--source", str(export(unlabeled, tmp_path / "i.jsonl")))
    code, _, err = run_cli(capsys, "dataset", "--repo", "dotnet/corefx")
    assert code == 2 and "nothing to learn from" in err


def test_commands_before_their_inputs_exist(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv, needle in ((["dataset", "--repo", "a/b"], "triage ingest"),
                         (["train", "--repo", "a/b"], "triage dataset"),
                         (["predict", "--repo", "a/b", "title"], "no model has been promoted")):
        code, _, err = run_cli(capsys, *argv)
        assert code == 3 and needle in err, (argv, err)


def test_bad_repository_name_and_config(env: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["dataset", "--repo", "not-a-repo"])
    assert exc.value.code == 2
    monkeypatch.setenv("TRIAGE_TARGET_PRECISION", "1.5")
    code, _, err = run_cli(capsys, "dataset", "--repo", "a/b")
    assert code == 2 and "TRIAGE_TARGET_PRECISION" in err


def test_demo(env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["-q", "demo", "--out", str(tmp_path / "out"), "--held-back", "30"])
    out = capsys.readouterr().out
    assert code == 0
    for needle in ("[7/7] summary", "test split", "macro-F1", "coverage", "held-back new issues: would label",
                   "promoted model folder"):
        assert needle in out, needle
    assert {"report.html", "report.md", "confusion_matrix.png", "precision_coverage.png"} <= {
        p.name for p in (tmp_path / "out").iterdir()}
    html = (tmp_path / "out" / "report.html").read_text()
    assert "What it would have labeled" in html and html.count("<tr><td>#") == 30
    # A second run trains a new model, compares it with the champion on the same frozen test set.
    assert main(["-q", "demo", "--out", str(tmp_path / "out2"), "--held-back", "30"]) == 0
    assert "champion" in capsys.readouterr().out


# --- hostile input through a real process (issue #13, item 18) -------------------------------------------------

HOSTILE = {
    "deep.jsonl": "[" * 200_000 + "\n",
    "infinity.jsonl": '{"repo": "o/r", "number": Infinity, "title": "t", "labels": []}\n',
    "string-label-event.jsonl": json.dumps({"number": 1, "title": "t", "labels": [], "user": {"login": "a"},
                                            "repository_url": "https://api.github.com/repos/o/r",
                                            "events": [{"event": "labeled", "label": "bug"}]}) + "\n",
    "fraction.jsonl": '{"repo": "o/r", "number": 1.5, "title": "t", "labels": []}\n',
    "list-title.jsonl": '{"repo": "o/r", "number": 1, "title": ["a"], "labels": []}\n',
    "empty.csv": "",
    "not-utf8.jsonl": "caf\u00e9\n",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_files_through_the_triage_command(tmp_path: Path, name: str) -> None:
    source = tmp_path / name
    source.write_bytes(HOSTILE[name].encode("latin-1" if name == "not-utf8.jsonl" else "utf-8"))
    home = tmp_path / "home"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGE_")}
    done = subprocess.run([sys.executable, "-m", "triage.cli", "--home", str(home), "ingest", "--source", str(source)],
                          capture_output=True, text=True, env=environment, timeout=120)
    assert done.returncode == 2 and done.stdout == "", done.stderr
    assert done.stderr.startswith(f"error: {source}") and done.stderr.count("\n") == 1, done.stderr
    assert "Traceback" not in done.stderr and not home.exists(), "nothing is written, not even the stores' folder"


def test_triage_home_that_is_a_file_through_the_triage_command(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("keep")
    environment = {**{k: v for k, v in os.environ.items() if not k.startswith("TRIAGE_")}, "TRIAGE_HOME": str(afile)}
    done = subprocess.run([sys.executable, "-m", "triage.cli", "dataset", "--repo", "o/r"], capture_output=True,
                          text=True, env=environment, timeout=120)
    assert done.returncode == 2 and done.stderr.startswith("error: TRIAGE_HOME=") and done.stderr.count("\n") == 1
    assert afile.read_text() == "keep"


@settings(max_examples=5, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=json_lines_files())
def test_generated_exports_through_the_triage_command(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    folder = tmp_path_factory.mktemp("generated")
    source = folder / "export.jsonl"
    source.write_text(text, encoding="utf-8", errors="surrogatepass")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGE_")}
    done = subprocess.run([sys.executable, "-m", "triage.cli", "--home", str(folder / "home"), "ingest", "--source",
                           str(source)], capture_output=True, text=True, env=environment, timeout=120)
    assert "Traceback" not in done.stderr
    if done.returncode == 0:
        assert json.loads(done.stdout)["count"] >= 1
    else:
        assert done.returncode == 2 and done.stderr.startswith("error: ") and done.stderr.count("\n") == 1
