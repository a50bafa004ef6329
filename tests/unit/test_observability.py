"""Log lines carry their own invocation's keys, even when `make local` runs many in-process
containers at once on threads."""

from __future__ import annotations

import io
import json
import logging
import threading
from dataclasses import dataclass
from typing import Any

from exotel_webhooks.observability import lambda_handler, log_keys, logger


@dataclass
class Context:
    aws_request_id: str
    function_version: str = "$LATEST"


def test_a_line_carries_only_its_own_invocations_keys() -> None:
    # Given a capture of the logger's stream
    buffer = io.StringIO()
    handlers = [
        handler
        for handler in logging.getLogger(logger.service).handlers
        if isinstance(handler, logging.StreamHandler)
    ]
    streams = [handler.setStream(buffer) for handler in handlers]
    both_added = threading.Barrier(2)

    def function(name: str) -> Any:
        @lambda_handler
        def handler(event: dict[str, Any], context: Any) -> None:
            log_keys(campaign_sid=event["campaign_sid"])
            both_added.wait(timeout=5)
            logger.warning("record failed")

        return handler

    # When two invocations add their keys and then log, at the same time, on two threads
    try:
        threads = [
            threading.Thread(
                target=function(name),
                args=({"campaign_sid": f"camp_{name}"}, Context(aws_request_id=f"req_{name}")),
            )
            for name in ("a", "b")
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for handler, stream in zip(handlers, streams, strict=True):
            if stream is not None:
                handler.setStream(stream)
        logger.thread_safe_clear_keys()

    # Then each warning names its own campaign and request, never the other's
    warnings = [
        json.loads(line)
        for line in buffer.getvalue().splitlines()
        if json.loads(line)["message"] == "record failed"
    ]
    assert sorted((line["campaign_sid"], line["function_request_id"]) for line in warnings) == [
        ("camp_a", "req_a"),
        ("camp_b", "req_b"),
    ]
