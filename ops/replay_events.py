"""`make replay-events FROM=... TO=... [RULE=...]`: the campaign events the bus's archive kept
between two moments, sent again to the bus's rules, or to one of them (docs/operations.md,
"Replaying events"). The ledger is not touched: events come out of it, never go into it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from botocore.exceptions import ClientError

from ops.target import Target

ARCHIVE = "CampaignEventArchive"
MAX_REPLAY_NAME = 64  # EventBridge's limit on a replay's name


class ReplayRefused(Exception):
    """The replay cannot be started as asked (the reason is one line)."""


@dataclass(frozen=True)
class StartedReplay:
    name: str
    archive: str
    start: datetime
    end: datetime
    rule: str | None
    state: str

    def summary(self) -> str:
        to = f"rule {self.rule}" if self.rule else "every rule of the bus"
        return (
            f"replay {self.name} {self.state.lower()}: the campaign events archived from "
            f"{self.start:%Y-%m-%d %H:%M:%S}Z to {self.end:%Y-%m-%d %H:%M:%S}Z, to {to} "
            f"(each marked with replay-name; aws events describe-replay --replay-name "
            f"{self.name} follows it)"
        )


def moment(text: str, zone: ZoneInfo) -> datetime:
    """An ISO 8601 date or time; one without an offset is the stack's LocalTimezone's (a date,
    its midnight). In UTC."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ReplayRefused(
            f"{text!r} is not a date or time (ISO 8601: 2026-12-04, 2026-12-04T09:30, "
            "2026-12-04T04:00Z)"
        ) from None
    if len(text.strip()) == len("2026-12-04"):  # a date: its first moment
        parsed = datetime.combine(date.fromisoformat(text.strip()), time())
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(UTC)


def replay_events(
    target: Target,
    start_text: str,
    end_text: str,
    rule: str | None = None,
    now: datetime | None = None,
) -> StartedReplay:
    """Start a replay of the archive's events between the two moments (the end no later than
    now) to the bus's rules, or only to `rule` (a rule's name on the bus). Raises ReplayRefused
    with a one-line reason."""
    zone = target.rules.local_timezone
    start, end = moment(start_text, zone), moment(end_text, zone)
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    end = min(end, now)
    if start >= end:
        raise ReplayRefused(f"FROM ({start:%Y-%m-%d %H:%M}Z) must come before TO and now")
    events = target.client("events")
    archive_name = target.physical_id(ARCHIVE)
    archive = events.describe_archive(ArchiveName=archive_name)
    bus_arn = archive["EventSourceArn"]
    retention = int(archive.get("RetentionDays") or 0)
    if retention and start < now - timedelta(days=retention):
        raise ReplayRefused(
            f"FROM is past the archive's {retention} days (EventArchiveRetentionDays): its "
            "events are gone"
        )
    destination: dict[str, object] = {"Arn": bus_arn}
    if rule:
        destination["FilterArns"] = [_rule_arn(target, bus_arn.rsplit("/", 1)[1], rule)]
    name = f"{target.stack_name[: MAX_REPLAY_NAME - 16]}-{now:%Y%m%d%H%M%S}"
    started = events.start_replay(  # AWS refusing is a ClientError: exit 1, not a bad range
        ReplayName=name,
        Description=f"make replay-events FROM={start_text} TO={end_text}",
        EventSourceArn=archive["ArchiveArn"],
        EventStartTime=start,
        EventEndTime=end,
        Destination=destination,
    )
    return StartedReplay(name, archive_name, start, end, rule, started["State"])


def _rule_arn(target: Target, bus: str, rule: str) -> str:
    events = target.client("events")
    try:
        arn: str = events.describe_rule(Name=rule, EventBusName=bus)["Arn"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        names = sorted(
            found["Name"]
            for page in events.get_paginator("list_rules").paginate(EventBusName=bus)
            for found in page["Rules"]
            if not found.get("ManagedBy")  # the archive's own rule
        )
        raise ReplayRefused(
            f"no rule {rule!r} on {bus}; its rules: {', '.join(names) or 'none'}"
        ) from None
    return arn
