"""The ``triage`` command line and the demo. Imports ``triage.web``, ``triage.app`` and below."""
