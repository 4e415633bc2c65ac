"""The embedded queue: order, visibility timeout, deletion and the poison queue."""

from __future__ import annotations

from triage.adapters.local.queue import SqliteQueue


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_fifo_visibility_and_delete() -> None:
    clock = Clock()
    queue = SqliteQueue(":memory:", clock=clock)
    for n in range(3):
        queue.send({"n": n})
    first = queue.receive(2, visibility_timeout=30)
    assert [m.body["n"] for m in first] == [0, 1] and all(m.dequeue_count == 1 for m in first)
    assert [m.body["n"] for m in queue.receive(5)] == [2]
    assert queue.receive(5) == []  # all invisible now
    queue.delete(first[0].id)
    clock.now += 31
    again = queue.receive(5)
    assert [m.body["n"] for m in again] == [1, 2] and again[0].dequeue_count == 2
    assert queue.depth() == 2


def test_message_that_keeps_failing_goes_to_poison() -> None:
    clock = Clock()
    queue = SqliteQueue(":memory:", max_dequeue=3, clock=clock)
    queue.send({"repo": "a/b", "number": 1})
    for _ in range(3):
        assert len(queue.receive(1, visibility_timeout=1)) == 1
        clock.now += 2
    assert queue.receive(1) == []
    assert queue.depth() == 0 and queue.depth(queue.poison_name) == 1
    assert queue.peek(queue.poison_name) == [{"repo": "a/b", "number": 1}]
