"""The Azure Monitor adapter: the only module that imports ``azure.monitor.opentelemetry``."""

from __future__ import annotations


def configure_azure_monitor_exporter(connection_string: str, logger_name: str) -> None:
    """Export traces, metrics and the ``logger_name`` logs (custom events) to Application Insights."""
    from azure.monitor.opentelemetry import configure_azure_monitor

    configure_azure_monitor(connection_string=connection_string, logger_name=logger_name)
