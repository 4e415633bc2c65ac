"""The Function app imports cleanly and its registered functions answer through real azure.functions objects."""

from __future__ import annotations

import json

import azure.functions as func

from tests.conftest import user_function as registered


def test_health() -> None:
    request = func.HttpRequest(method="GET", url="/api/health", body=b"")
    response = registered("health")(request)
    assert response.status_code == 200
    assert json.loads(response.get_body())["status"] == "ok"
