"""The loopback GitHub REST API for tests, by role; ``tests/github_server.py`` is its public face."""
