"""Telemetry through the OpenTelemetry API: spans, custom events and metrics.

Without a configured provider every call is a no-op. In Azure, :func:`configure_from_env`
routes everything to Application Insights when ``APPLICATIONINSIGHTS_CONNECTION_STRING`` is
set. Custom events are log records carrying ``microsoft.custom_event.name``, which Azure
Monitor stores in the ``customEvents`` table.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any

from opentelemetry import metrics, trace

LOGGER_NAME = "triage"
_tracer = trace.get_tracer("triage")
_meter = metrics.get_meter("triage")
_events = logging.getLogger(f"{LOGGER_NAME}.events")
_counters: dict[str, Any] = {}
_histograms: dict[str, Any] = {}
_configured = False
_RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def _clean(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """OpenTelemetry attributes must be str, bool, int, float or sequences of them."""
    out: dict[str, Any] = {}
    for key, value in attributes.items():
        if value is None:
            continue
        if isinstance(value, (str, bool, int, float)):
            out[key] = value
        elif isinstance(value, (list, tuple)) and all(isinstance(v, (str, bool, int, float)) for v in value):
            out[key] = list(value)
        else:
            out[key] = str(value)
    return out


def span(name: str, **attributes: Any) -> AbstractContextManager[Any]:
    """A span around a unit of work (a function invocation, a GitHub or Azure ML call)."""
    return _tracer.start_as_current_span(name, attributes=_clean(attributes))


def event(name: str, **attributes: Any) -> None:
    """A custom event (for example ``LabelDecision``) with its properties.

    A property named like a standard ``logging.LogRecord`` field (``message``, ``name``…) gets
    the prefix ``event_``, since logging refuses to overwrite those.
    """
    properties = {(f"event_{k}" if k in _RESERVED else k): v for k, v in _clean(attributes).items()}
    _events.info(name, extra={"microsoft.custom_event.name": name, **properties})


def count(name: str, value: int = 1, **attributes: Any) -> None:
    """Add ``value`` to the counter ``name``."""
    if name not in _counters:
        _counters[name] = _meter.create_counter(name)
    _counters[name].add(value, _clean(attributes))


def record(name: str, value: float, unit: str = "", **attributes: Any) -> None:
    """Record a measurement (a confidence, a duration) in the histogram ``name``."""
    if name not in _histograms:
        _histograms[name] = _meter.create_histogram(name, unit=unit)
    _histograms[name].record(value, _clean(attributes))


def configure(connection: str) -> bool:
    """Send telemetry to Azure Monitor when ``connection`` (``APPLICATIONINSIGHTS_CONNECTION_STRING``) is set;
    True if configured."""
    global _configured
    if not connection or _configured:
        return _configured
    from triage.adapters.azure.monitor import configure_azure_monitor_exporter

    configure_azure_monitor_exporter(connection, LOGGER_NAME)
    _events.setLevel(logging.INFO)
    _configured = True
    return True
