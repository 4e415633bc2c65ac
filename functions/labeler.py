"""The labeler: a queue trigger on label-requests, and one on its poison queue."""

from __future__ import annotations

import azure.functions as func

from triage.app.labeling import label_request
from triage.app.status import record_poison
from triage.ports.queues import LABEL_REQUESTS, LABEL_REQUESTS_POISON

from ._runtime import model_cache, services

bp = func.Blueprint()


@bp.queue_trigger(arg_name="msg", queue_name=LABEL_REQUESTS, connection="TRIAGE_STORAGE")
def label_issue(msg: func.QueueMessage) -> None:
    """Label one issue; an exception makes the host retry, then move the message to the poison queue."""
    label_request(services(), msg.get_json(), model_cache())


@bp.queue_trigger(arg_name="msg", queue_name=LABEL_REQUESTS_POISON, connection="TRIAGE_STORAGE")
def label_issue_poison(msg: func.QueueMessage) -> None:
    """Record a request that failed every retry, for the status page and the alerts."""
    record_poison(services(), msg.get_body().decode("utf-8", "replace"))
