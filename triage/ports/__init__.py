"""Ports: the Protocols of the outside systems (blob and document stores, queues, GitHub, training
backends) and the typed records and blob layout stored through them. Imports ``triage.domain`` only."""
