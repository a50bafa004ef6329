"""Running campaigns gone silent (ledger/silence.py), on the deployed stack: the ledger stream
notes when each campaign's last callback was stored, the watch announces a campaign quiet for
SilentCampaignMinutes once (CampaignSilent, CampaignsSilent), and with sweeps on the event has it
swept at once."""

from __future__ import annotations

import contextlib
import io
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import boto3
import pytest

from exotel_webhooks.ledger.precedence import utc_text
from exotel_webhooks.ledger.silence import CAMPAIGN_SILENT, silence_handler
from exotel_webhooks.ledger.table import CampaignTable
from exotel_webhooks.notifications import CampaignEvents
from localaws.emulation import REGION, Deployment
from localaws.runtime import LocalLambdaContext, function_environment
from localaws.template import Template
from tests.support.openapi import assert_described
from tests.support.pipeline import Pipeline
from tests.support.report_server import Route

pytestmark = pytest.mark.enable_socket  # the report server stands in for Exotel's API
QUIET = timedelta(minutes=int(Template.load().parameter("SilentCampaignMinutes")["Default"]))


def call_status(call_sid: str, status: str = "busy", sid: str = "camp_1") -> dict[str, Any]:
    return {"campaign_sid": sid, "call_sid": call_sid, "number": "+919876543210",
            "status": status, "date_updated": "2024-01-15 09:01:00"}  # fmt: skip


def table(stack: Deployment) -> CampaignTable:
    client = boto3.client("dynamodb", region_name=REGION)
    return CampaignTable(client, stack.physical_id("CampaignTable"))


def watch(stack: Deployment, at: datetime) -> tuple[list[str], str]:
    """The silence watch run at `at`: the campaigns it announced, and its metrics (EMF)."""
    bus = function_environment(stack, "SilenceWatchFunction")["EVENT_BUS_NAME"]
    events = CampaignEvents(boto3.client("events", region_name=REGION), bus)
    handler = silence_handler(table(stack), QUIET, events, clock=lambda: at)
    metrics = io.StringIO()
    with contextlib.redirect_stdout(metrics):
        answer = handler({}, LocalLambdaContext("SilenceWatchFunction"))  # type: ignore[arg-type]
    return answer["silent"], metrics.getvalue()


def silent_events(pipeline: Pipeline) -> list[dict[str, Any]]:
    return [detail for kind, detail in pipeline.published if kind == CAMPAIGN_SILENT]


def test_a_running_campaign_whose_callbacks_stop_is_announced_once(
    pipeline: Pipeline, stack: Deployment
) -> None:
    # Given a campaign whose callbacks stopped after two attempts, with no final status
    for call_sid in ("call_1", "call_2"):
        assert pipeline.webhook("call-status", call_status(call_sid)) == 200
    pipeline.drain()
    now = datetime.now(UTC)

    # When the watch runs before SilentCampaignMinutes have passed, then after
    early, _ = watch(stack, now + QUIET - timedelta(minutes=2))
    before = pipeline.get("/campaigns/camp_1")
    silent, metrics = watch(stack, now + QUIET + timedelta(minutes=1))
    again, _ = watch(stack, now + QUIET + timedelta(minutes=6))

    # Then it is silent once: one event naming it and when it was last heard, one metric point
    assert (early, silent, again) == ([], ["camp_1"], [])
    [event] = silent_events(pipeline)
    assert event["campaign_sid"] == "camp_1"
    assert event["status"] is None  # no campaign status callback yet
    assert event["silent_minutes"] >= QUIET.total_seconds() // 60
    assert datetime.fromisoformat(event["last_callback_at"]) <= now
    assert '"CampaignsSilent":[1.0]' in metrics.replace(" ", "")
    # ... and the read API says since when, as openapi.yaml describes it
    after = pipeline.get("/campaigns/camp_1")
    assert (before["silent_since"], after["silent_since"]) == (None, event["last_callback_at"])
    assert before["last_callback_at"] == after["last_callback_at"] == event["last_callback_at"]
    assert_described("Campaign", after)

    # When the campaign then finishes, Then it is silent no more
    final = {"campaign_sid": "camp_1", "status": "Completed", "date_updated": "2024-01-15 18:00:00"}
    assert pipeline.webhook("campaign-status", final) == 200
    pipeline.drain()
    assert pipeline.get("/campaigns/camp_1")["silent_since"] is None


def test_a_finished_campaign_is_never_silent(pipeline: Pipeline, stack: Deployment) -> None:
    # Given a campaign whose last callback is its final status
    assert pipeline.webhook("call-status", call_status("call_1", "completed")) == 200
    final = {"campaign_sid": "camp_1", "status": "Completed", "date_updated": "2024-01-15 18:00:00"}
    assert pipeline.webhook("campaign-status", final) == 200
    pipeline.drain()

    # When the watch runs long after, Then nothing is announced
    assert watch(stack, datetime.now(UTC) + QUIET * 3)[0] == []
    assert silent_events(pipeline) == []


def test_callbacks_after_a_silence_then_silence_again_are_announced_again(
    pipeline: Pipeline, stack: Deployment
) -> None:
    # Given a silent campaign, announced
    assert pipeline.webhook("call-status", call_status("call_1")) == 200
    pipeline.drain()
    now = datetime.now(UTC)
    assert watch(stack, now + QUIET + timedelta(minutes=1))[0] == ["camp_1"]

    # When callbacks come again an hour later and stop again (the stream notes the hour)
    later = (now + timedelta(hours=1)).replace(second=0, microsecond=0)
    heard = later.strftime("%Y-%m-%dT%H:%M:00.000000Z")
    items = table(stack).campaign_items("camp_1")
    shard = next(str(i["SK"]).removeprefix("#COUNTER#") for i in items if i.get("heard"))
    table(stack).note_heard("camp_1", shard, heard)

    # Then the new silence is announced, once
    assert watch(stack, later + QUIET + timedelta(minutes=1))[0] == ["camp_1"]
    assert watch(stack, later + QUIET + timedelta(minutes=9))[0] == []
    assert [e["last_callback_at"] for e in silent_events(pipeline)][-1] == heard


def test_with_sweeps_on_a_silent_campaign_is_swept_at_once(
    pipeline: Pipeline, stack: Deployment
) -> None:
    # Given a running campaign whose later callbacks Exotel lost: the API knows a second call
    assert pipeline.webhook("call-status", call_status("call_1")) == 200
    pipeline.drain()
    base = "/v2/accounts/demo-account/campaigns/camp_1"
    rows = [{"call_sid": "call_2", "number": "+919812345678", "status": "no-answer",
             "date_created": "2024-01-15T09:30:00+05:30"}]  # fmt: skip
    answers = {
        base: {"response": [{"data": {"id": "camp_1", "status": "InProgress"}}]},
        f"{base}/call-details": {"metadata": {"total": 1}, "response": rows},
    }
    for path, body in answers.items():
        pipeline.server.routes[path] = Route(body=json.dumps(body).encode(),
                                             content_type="application/json")  # fmt: skip

    # When the watch announces its silence and the bus's rules deliver the event
    assert watch(stack, datetime.now(UTC) + QUIET + timedelta(minutes=1))[0] == ["camp_1"]
    assert pipeline.deliver_events() >= 1
    pipeline.drain()

    # Then the sweep function swept that campaign: the lost attempt is in the ledger
    assert pipeline.get("/campaigns/camp_1")["attempts"]["total"] == 2


def test_a_paused_campaign_resumed_is_silent_only_from_its_resumption(
    pipeline: Pipeline, stack: Deployment
) -> None:
    # Given a campaign heard now, then paused, and resumed two hours later (Exotel's time, IST)
    assert pipeline.webhook("call-status", call_status("call_1")) == 200
    resumed = (datetime.now(UTC) + timedelta(hours=2)).replace(second=0, microsecond=0)
    for status, moment in (("Paused", datetime.now(UTC)), ("Resumed", resumed)):
        local = moment.astimezone(timezone(timedelta(hours=5, minutes=30)))
        update = {"campaign_sid": "camp_1", "status": status,
                  "date_updated": f"{local:%Y-%m-%d %H:%M:%S}"}  # fmt: skip
        assert pipeline.webhook("campaign-status", update) == 200
    pipeline.drain()

    # When the watch runs just after the resumption, then SilentCampaignMinutes after it
    just_after, _ = watch(stack, resumed + timedelta(minutes=2))
    later, _ = watch(stack, resumed + QUIET + timedelta(minutes=1))

    # Then it is not silent for its pause, and silent once nothing came after the resumption
    assert (just_after, later) == ([], ["camp_1"])
    assert silent_events(pipeline)[-1]["last_callback_at"] == utc_text(resumed)


def test_a_replayed_silence_sweeps_nothing(pipeline: Pipeline) -> None:
    # Given a CampaignSilent event sent again by make replay-events
    assert pipeline.webhook("call-status", call_status("call_1")) == 200
    pipeline.drain()
    replayed = {"detail-type": "CampaignSilent", "source": "exotel.campaign-webhooks",
                "replay-name": "exotel-webhooks-20261204120000",
                "detail": {"campaign_sid": "camp_1"}}  # fmt: skip

    # When the sweep function gets it, Then it sweeps nothing: a replay never starts a sweep
    assert pipeline.invoke("SweepFunction", replayed) == {"swept": [], "failed": []}
    assert pipeline.get("/campaigns/camp_1")["attempts"]["total"] == 1
