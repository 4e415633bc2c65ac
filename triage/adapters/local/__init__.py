"""Embedded adapters: a blob store on disk, a document store and a queue in SQLite, training in a child process."""
