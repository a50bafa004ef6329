"""Read a function's log group (what `sam logs` does), from AWS or the local stack."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from exotel_webhooks.normalise import normalise_phone
from exotel_webhooks.observability import number_hash
from exotel_webhooks.settings import NormalisationRules
from localaws.template import Template
from ops.target import Target


def log_group_of(target: Target, function: str) -> str:
    """The name of the log group the function logs to (its LoggingConfig in template.yaml)."""
    return target.physical_id(Template.load().log_group_of(function))


def logged_number_hash(target: Target, number: str, rules: NormalisationRules | None = None) -> str:
    """What the stack's log lines call `number`: its hash under the stack's key (the stack's
    id), of the number as the table keys it. `0XXXXXX4890@<call SID>` names a masked one."""
    rules = rules or target.rules
    key = number if "@" in number else normalise_phone(number, rules.default_phone_region).key
    return str(number_hash(key, target.stack_id))


def log_lines(
    target: Target,
    function: str,
    *,
    since_seconds: int = 600,
    filter_pattern: str | None = None,
    follow: bool = False,
    poll_seconds: float = 2.0,
) -> Iterator[str]:
    """The function's log lines from `since_seconds` ago, oldest first; with `follow`, keep
    waiting for new ones (until interrupted)."""
    logs = target.client("logs")
    group = log_group_of(target, function)
    start = int((time.time() - since_seconds) * 1000)
    seen: set[str] = set()
    while True:
        request: dict[str, Any] = {"logGroupName": group, "startTime": start}
        if filter_pattern:
            request["filterPattern"] = filter_pattern
        for page in logs.get_paginator("filter_log_events").paginate(**request):
            for event in page.get("events", []):
                if event["eventId"] in seen:
                    continue
                seen.add(event["eventId"])
                start = max(start, event["timestamp"])
                yield event["message"].rstrip("\n")
        if not follow:
            return
        time.sleep(poll_seconds)
