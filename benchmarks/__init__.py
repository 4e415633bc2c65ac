"""Benchmarks: commands that print a table and write JSON (``--json PATH``). Not part of the tests."""
