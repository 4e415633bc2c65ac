"""The domain: issues, the labeling policy, text cleaning, schedules, the repository config, settings
parsing and the error hierarchy. Pure Python: imports nothing else of ``triage``."""
