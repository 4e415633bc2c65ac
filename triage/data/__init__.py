"""Issue data: readers of exports, the issue store, the GitHub scraper and dataset building.
Imports ``triage.ports`` and ``triage.domain``."""
