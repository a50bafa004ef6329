"""The stack tier's fixtures: the template deployed into moto, functions loaded with its
environment (tests/support/stack.py)."""

import pytest

from tests.support.stack import (  # noqa: F401 - pytest finds fixtures by name here
    aws_calls,
    cloudformation,
    load_function,
    log_output,
    pipeline,
    receiver,
    report_server,
    stack,
    template,
)


@pytest.fixture(autouse=True)
def _erasures_settle_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """`make erase` looks again after 2 s for writes that raced its tombstone, and waits for
    the analytics rows on their way; moto has no replication lag to wait for,"""
    monkeypatch.setattr("ops.erase.SETTLE_SECONDS", 0.0)
    # nor a Firehose buffer: its rows land as they are sent
    monkeypatch.setattr("ops.erase.dataset_catch_up_seconds", lambda _target: 0.0)
    # and the pipeline hands a rule's events over once the stream has caught up
    monkeypatch.setattr("exotel_webhooks.views.pages.SETTLE_SECONDS", 0.0)
