"""The maintainer dashboard, framework-free: HTTP request/response types, authentication, the view,
the page and a loopback server; the Function app and the CLI serve it. Imports ``triage.app`` and below."""
