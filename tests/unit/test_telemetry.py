"""Telemetry: spans, custom events and metrics, captured with OpenTelemetry's in-memory exporters."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import metrics, trace
from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import (
    InMemoryLogRecordExporter,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from triage.app import telemetry
from triage.app.bootstrap import build_services
from triage.app.labeling import label_request
from triage.app.learning_loop import after_feedback
from triage.app.status import record_poison
from triage.app.training import record_training
from triage.domain.policy import Decision

SPANS = InMemorySpanExporter()
METRICS = InMemoryMetricReader()
LOGS = InMemoryLogRecordExporter()
_installed = False


@pytest.fixture(autouse=True)
def otel() -> None:
    """Install in-memory providers once per process (OpenTelemetry's globals can be set only once)."""
    global _installed
    if not _installed:
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(SPANS))
        trace.set_tracer_provider(tracer_provider)
        metrics.set_meter_provider(MeterProvider(metric_readers=[METRICS]))
        logger_provider = LoggerProvider()
        logger_provider.add_log_record_processor(SimpleLogRecordProcessor(LOGS))
        logging.getLogger(telemetry.LOGGER_NAME).addHandler(LoggingHandler(logger_provider=logger_provider))
        logging.getLogger(f"{telemetry.LOGGER_NAME}.events").setLevel(logging.INFO)
        _installed = True
    SPANS.clear()
    LOGS.clear()


def events(name: str) -> list[dict[str, Any]]:
    return [dict(r.log_record.attributes) for r in LOGS.get_finished_logs()
            if r.log_record.attributes.get("microsoft.custom_event.name") == name]


def metric_points(name: str) -> list[Any]:
    data = METRICS.get_metrics_data()
    return [point for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
            if m.name == name for point in m.data.data_points]


class FakeApi:
    """An in-memory GitHub for the labeler's reads and writes."""

    def __init__(self) -> None:
        self.added: list[tuple[str, int, list[str]]] = []

    def get_issue(self, repo: str, number: int) -> dict[str, Any]:
        return {"number": number, "title": "HttpClient hangs", "body": "", "labels": [], "state": "open",
                "repository_url": f"https://api.github.com/repos/{repo}"}

    def issue_events(self, repo: str, number: int) -> list[dict[str, Any]]:
        return []

    def add_labels(self, repo: str, number: int, labels: list[str]) -> None:
        self.added.append((repo, number, labels))

    def get_file(self, repo: str, path: str) -> str:
        return "dry_run: false\n"


class FakeModel:
    labels = ["area-Net", "area-IO"]
    thresholds = {"area-Net": 0.6, "area-IO": 0.6}
    single_label = True
    version = "v7"

    def evidence(self, title: str, body: str, label: str, k: int = 3) -> list[str]:
        return []  # no lexical half: no words to show

    def similar(self, title: str, body: str, label: str, number: int | None = None, k: int = 3) -> list[tuple[int, str]]:
        return []  # no stored past issues

    def scores(self, title: str, body: str) -> dict[str, float]:
        return {"area-Net": 0.93, "area-IO": 0.07}


class FakeCache:
    def get(self, s: Any, repo: str) -> FakeModel:
        return FakeModel()


def test_a_decision_is_a_span_an_event_and_metrics(tmp_path: Path) -> None:
    api = FakeApi()
    s = build_services({"TRIAGE_HOME": str(tmp_path), "TRIAGE_DRY_RUN": "false"})
    s.github = lambda: api
    result = label_request(s, {"repo": "octo/widgets", "number": 12}, FakeCache())  # type: ignore[arg-type]
    assert result["add"] == [{"label": "area-Net", "score": 0.93}] and api.added == [("octo/widgets", 12, ["area-Net"])]
    span = next(s for s in SPANS.get_finished_spans() if s.name == "label_request")
    assert span.attributes["repo"] == "octo/widgets" and span.attributes["issue"] == 12
    (event,) = events("LabelDecision")
    assert event["repo"] == "octo/widgets" and event["issue"] == 12 and event["applied"] is True
    assert list(event["labels"]) == ["area-Net"] and list(event["confidences"]) == [0.93]
    assert "threshold" in event["reason"]
    decisions = metric_points("triage.decisions")
    assert any(p.attributes["outcome"] == "labeled" and p.value >= 1 for p in decisions)
    assert any(p.attributes["label"] == "area-Net" for p in metric_points("triage.confidence"))


def test_poison_training_and_promotion_events(tmp_path: Path) -> None:
    s = build_services({"TRIAGE_HOME": str(tmp_path)})
    record_poison(s, '{"repo": "octo/widgets", "number": 4}')
    assert events("PoisonMessage")[0]["repo"] == "octo/widgets"
    record_training(s, "octo/widgets", "v9", "failed", "CUDA out of memory")
    (run,) = events("TrainingRun")
    assert run["state"] == "failed" and "CUDA" in run["detail"]
    assert any(p.attributes == {"repo": "octo/widgets", "state": "failed"} for p in metric_points("triage.training.runs"))


def test_attributes_are_made_exportable() -> None:
    telemetry.event("Probe", none=None, number=3, labels=("a", "b"), nested={"x": 1}, decision=Decision("a/b", 1, (), ()))
    (event,) = events("Probe")
    assert "none" not in event and event["number"] == 3 and list(event["labels"]) == ["a", "b"]
    assert event["nested"] == "{'x': 1}" and isinstance(event["decision"], str)


def test_nothing_is_configured_without_a_connection_string() -> None:
    assert telemetry.configure("") is False


def test_feedback_is_an_event_and_a_metric(tmp_path: Path) -> None:
    s = build_services({"TRIAGE_HOME": str(tmp_path)})
    record = {"repo": "octo/widgets", "number": 7, "label": "bug", "verdict": "corrected", "judged_label": "bug",
              "source": "review", "model_version": "v1"}
    after_feedback(s, "octo/widgets", [record])
    (event,) = events("LabelFeedback")
    assert (event["verdict"], event["judged_label"], event["source"], event["issue"]) == ("corrected", "bug", "review", 7)
    assert any(dict(p.attributes).get("verdict") == "corrected" for p in metric_points("triage.feedback"))
