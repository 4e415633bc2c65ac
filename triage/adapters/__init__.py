"""Adapters: the real implementations of the ports. ``local`` (files, SQLite, a child process),
``azure`` (Blob, Queue, Cosmos DB, Azure ML, Azure Monitor) and ``github`` (REST through PyGithub).
The only code that imports an Azure SDK or PyGithub. Imports ``triage.learning`` and below."""
