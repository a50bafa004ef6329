"""Generated Exotel campaigns: the callbacks they produce, as queue messages, and the state a
correct pipeline must end in whatever the delivery order (the oracle)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from exotel_webhooks.intake.body import decode_fields
from exotel_webhooks.intake.callbacks import build_callback
from exotel_webhooks.ledger.recording import version_of
from exotel_webhooks.messages import (
    CALLBACK_MODELS,
    Callback,
    CallStatusCallback,
    QueuedCallback,
)
from exotel_webhooks.settings import NormalisationRules
from exotel_webhooks.vocabulary import CallbackType

RULES = NormalisationRules()
FINAL = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
START = datetime(2024, 1, 15, 9, 0, tzinfo=UTC)
CALL_STATUSES = ["completed", "failed", "busy", "no-answer", "canceled"]
QUEUE_OF = {
    CallbackType.CALL_STATUS: "CallStatusQueue",
    CallbackType.CALL_SCHEDULE: "CallScheduleQueue",
    CallbackType.CAMPAIGN_STATUS: "CampaignStatusQueue",
}


@dataclass(frozen=True)
class Message:
    callback_type: CallbackType
    body: str

    @property
    def event(self) -> QueuedCallback[Callback]:
        model = CALLBACK_MODELS[self.callback_type]
        event: QueuedCallback[Callback] = QueuedCallback[model].model_validate_json(self.body)  # type: ignore[valid-type]
        return event


def message(
    callback_type: CallbackType, fields: dict[str, Any], received_at: datetime | None = None
) -> Message:
    """The queue message the receiver would produce for a callback with these fields."""
    body = json.dumps(fields).encode()
    received_at = received_at or START + timedelta(days=1)
    fields_sent = decode_fields(body, "application/json")
    callback = build_callback(callback_type, fields_sent, RULES, received_at)
    return Message(callback_type, callback.queued_event(received_at))


@dataclass
class Campaign:
    sid: str
    messages: list[Message] = field(default_factory=list)

    def winners(self, callback_type: CallbackType, key: str) -> dict[str, QueuedCallback[Callback]]:
        """For each item key, the update that must win: the greatest version."""
        best: dict[str, QueuedCallback[Callback]] = {}
        for sent in self.messages:
            if sent.callback_type is not callback_type:
                continue
            event = sent.event
            item_key = getattr(event.callback, key)
            if item_key not in best or version_of(event) > version_of(best[item_key]):
                best[item_key] = event
        return best

    def expected_calls(self) -> dict[str, str]:
        winners = self.winners(CallbackType.CALL_STATUS, "call_sid")
        return {sid: event.callback.status for sid, event in winners.items()}

    def expected_numbers(self) -> dict[str, str]:
        winners = self.winners(CallbackType.CALL_SCHEDULE, "to")
        return {number: event.callback.status for number, event in winners.items()}

    def expected_analytics(self, zone: ZoneInfo) -> dict[str, list[dict[str, Any]]]:
        """What the analytics queries must answer of this campaign (analytics/queries): connect
        rate by the hour each final attempt was dialled and by attempt number, attempts per
        connected number, and the outcome mix, from the updates that must win."""
        attempts = self.winners(CallbackType.CALL_STATUS, "call_sid")
        numbers = self.expected_numbers()
        by_hour: dict[int, Counter[str]] = {}
        by_attempt: dict[int, Counter[str]] = {}
        per_number: dict[str, list[tuple[str, str]]] = {}
        for call_sid, event in attempts.items():
            call = event.callback
            assert isinstance(call, CallStatusCallback)
            dialled = call.date_created or call.date_updated
            assert dialled is not None
            instant = dialled.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            per_number.setdefault(call.number, []).append((instant, call_sid))
            if call.status in FINAL:
                counts = by_hour.setdefault(dialled.astimezone(zone).hour, Counter())
                counts.update(attempts=1, connected=int(call.status == "completed"))
        for dialled_in_order in per_number.values():
            for place, (_, call_sid) in enumerate(sorted(dialled_in_order), start=1):
                status = attempts[call_sid].callback.status
                if status in FINAL:
                    counts = by_attempt.setdefault(place, Counter())
                    counts.update(attempts=1, connected=int(status == "completed"))
        took = Counter(
            len(per_number.get(number, [])) for number, s in numbers.items() if s == "completed"
        )
        return {
            "connect_rate_by_hour": [
                {"hour": hour, "attempts": c["attempts"], "connected": c["connected"]}
                for hour, c in sorted(by_hour.items())
            ],
            "connect_rate_by_attempt": [
                {"attempt_number": n, "attempts": c["attempts"], "connected": c["connected"]}
                for n, c in sorted(by_attempt.items())
            ],
            "attempts_per_connect": [{"attempts": n, "numbers": took[n]} for n in sorted(took)],
            "outcome_mix": sorted(
                ({"status": s, "numbers": n} for s, n in Counter(numbers.values()).items()),
                key=lambda row: (-row["numbers"], row["status"]),
            ),
        }

    def expected_summary(self) -> dict[str, Any]:
        campaign = self.winners(CallbackType.CAMPAIGN_STATUS, "campaign_sid")
        calls, numbers = self.expected_calls(), self.expected_numbers()
        return {
            "status": campaign[self.sid].callback.status if campaign else None,
            "attempts": {
                "total": len(calls),
                "by_status": dict(sorted(Counter(calls.values()).items())),
            },
            "numbers": {
                "total": len(numbers),
                "by_status": dict(sorted(Counter(numbers.values()).items())),
            },
        }


def _stamp(minutes: int) -> str:
    return (START + timedelta(minutes=minutes)).isoformat()


@dataclass(frozen=True)
class CampaignPlan:
    """A campaign's callbacks with the campaign left open: the same plan, under two SIDs, must
    end in the same state however each is delivered."""

    callbacks: tuple[tuple[CallbackType, dict[str, Any]], ...]

    def campaign(self, sid: str) -> Campaign:
        def owned(call_sid: str) -> str:
            return f"{sid}-{call_sid}"

        messages = []
        for callback_type, plan_fields in self.callbacks:
            fields = {**plan_fields, "campaign_sid": sid}
            if "call_sid" in fields:
                fields["call_sid"] = owned(fields["call_sid"])
            if "call_sids" in fields:
                fields["call_sids"] = [owned(call_sid) for call_sid in fields["call_sids"]]
            messages.append(message(callback_type, fields))
        return Campaign(sid, messages)


@st.composite
def campaign_plans(draw: st.DrawFn) -> CampaignPlan:
    """1-4 numbers, 1-3 attempts each, an attempt's status sometimes updated later (or at the
    same instant: the tie must still resolve one way), final outcomes (sometimes sent twice),
    and the campaign's statuses."""
    callbacks: list[tuple[CallbackType, dict[str, Any]]] = []
    numbers = draw(st.lists(st.integers(10, 99), min_size=1, max_size=4, unique=True))
    clock = 0
    for number in numbers:
        phone = f"+9198765432{number}"
        call_sids = []
        for attempt in range(draw(st.integers(1, 3))):
            call_sid = f"call-{number}-{attempt}"
            call_sids.append(call_sid)
            created = clock
            for _ in range(draw(st.integers(1, 2))):
                clock += draw(st.sampled_from([0, 1, 7]))
                fields = {
                    "call_sid": call_sid,
                    "number": phone,
                    "status": draw(st.sampled_from(CALL_STATUSES)),
                    "date_created": _stamp(created),
                    "date_updated": _stamp(clock),
                }
                callbacks.append((CallbackType.CALL_STATUS, fields))
        for _ in range(draw(st.integers(1, 2))):
            clock += draw(st.sampled_from([0, 1, 30]))
            outcome: dict[str, Any] = {
                "to": phone,
                "from": "08047104890",
                "call_sids": list(call_sids),
                "status": draw(st.sampled_from(["completed", "failed"])),
                "date_updated": _stamp(clock),
            }
            callbacks.append((CallbackType.CALL_SCHEDULE, outcome))
    for status, minutes in (("InProgress", 0), ("Completed", clock + 60)):
        fields = {"status": status, "date_created": _stamp(0), "date_updated": _stamp(minutes)}
        if status == "Completed":
            fields["report_url"] = "https://s3.amazonaws.com/exotel/report.csv"
        callbacks.append((CallbackType.CAMPAIGN_STATUS, fields))
    return CampaignPlan(tuple(callbacks))
