"""The application: settings, wiring (``bootstrap``), telemetry and one use case per flow (label,
webhook, scrape, train, promote, status). What the Function triggers, the dashboard and the CLI call.
Imports ``triage.adapters`` and below."""
