"""`make local`, in-process on a free port: webhooks in over HTTP, state out of the read API."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import boto3
import pytest

from exotel_webhooks.intake.body import decode_fields
from exotel_webhooks.intake.callbacks import build_callback
from exotel_webhooks.ledger.precedence import utc_text
from exotel_webhooks.ledger.table import CampaignTable
from exotel_webhooks.settings import NormalisationRules
from exotel_webhooks.sweep.campaign_api import CampaignApiRefused
from exotel_webhooks.vocabulary import CallbackType
from localaws.demo import CALLS, play
from localaws.demo_sweep import play_lost_callbacks
from localaws.emulation import REGION, STACK_NAME
from localaws.exotel_simulator import CREDENTIALS, serve_campaign_api
from localaws.stack import LocalStack, scheduled, write_state
from localaws.template import PROJECT_ROOT, Template
from ops.erase import erase_number
from ops.logs import log_lines
from ops.quarantine import quarantined, replay
from ops.redrive import redrive
from ops.replay_events import replay_events
from ops.sam_env import sam_environment
from ops.smoke import smoke
from ops.sweep import sweep_campaign
from ops.target import Target
from tests.support.local_stack import running_local_stack
from tests.support.report_server import ReportServer, Route

TOKEN = "local-test-token"
pytestmark = pytest.mark.enable_socket


@dataclass
class Running:
    stack: LocalStack
    base: str
    exotel_host: str  # the simulated Campaign API's

    def post(self, callback: str, body: str, content_type: str) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(  # noqa: S310 - loopback only
            f"{self.base}/webhooks/exotel/{callback}?token={TOKEN}",
            data=body.encode(),
            headers={"content-type": content_type},
            method="POST",
        )
        return _send(request)

    def get(self, path: str) -> tuple[int, dict[str, Any]]:
        return _send(urllib.request.Request(f"{self.base}{path}"))  # noqa: S310

    def eventually(self, path: str, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """Poll the read API until the pipeline has caught up (bounded: 60 s)."""
        deadline = time.monotonic() + 60
        while True:
            status, body = self.get(path)
            if status == 200 and done(body):
                return body
            if time.monotonic() > deadline:
                raise AssertionError(f"{path} never became as expected: {status} {body}")
            time.sleep(0.25)


def _send(request: urllib.request.Request) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture(scope="module")
def running(exotel_api: dict[str, list[dict[str, Any]]]) -> Iterator[Running]:
    # make demo's simulated Campaign API and Call details API
    httpd, host = serve_campaign_api(exotel_api, CALLS)
    try:
        # small campaigns: stored well within 3 s; sweeps against the simulated Campaign API
        with running_local_stack(
            TOKEN, REPORT_FETCH_DELAY_SECONDS="3", **exotel_environment(host)
        ) as (stack, base):
            yield Running(stack, base, host)
    finally:
        httpd.shutdown()


@pytest.fixture(scope="module")
def exotel_api() -> dict[str, list[dict[str, Any]]]:
    """The simulated Campaign API's campaigns and their call rows (tests add theirs)."""
    return {}


def exotel_environment(host: str) -> dict[str, str]:
    """What `make local` and `make sweep LOCAL=1` take to use a Campaign API on `host`."""
    return {
        "EXOTEL_API_URL": f"http://{host}",
        "EXOTEL_API_KEY": CREDENTIALS.api_key,
        "EXOTEL_API_TOKEN": CREDENTIALS.api_token,
        "EXOTEL_ACCOUNT_SID": CREDENTIALS.account_sid,
    }


@pytest.fixture(scope="module")
def reports() -> Iterator[ReportServer]:
    from tests.support.report_server import serve  # noqa: PLC0415

    state = ReportServer()
    httpd = serve(state)
    yield state
    httpd.shutdown()


def test_a_small_campaign_flows_from_webhooks_to_the_read_api(
    running: Running, reports: ReportServer
) -> None:
    # Given a campaign of three numbers: JSON and form bodies, a retried number, a duplicate
    sid = "camp_local_e2e"
    calls = [
        ("c1", "09876543210", "busy", "09:01:00"),
        ("c2", "09876543210", "completed", "09:11:00"),
        ("c3", "09812345678", "no-answer", "09:02:00"),
        ("c4", "09811111111", "failed", "09:03:00"),
    ]
    for call_sid, number, status, at in calls:
        body = json.dumps(
            {"campaign_sid": sid, "call_sid": call_sid, "number": number, "status": status,
             "date_updated": f"2024-01-15 {at}"}
        )  # fmt: skip
        assert running.post("call-status", body, "application/json")[0] == 200
    assert running.post("call-status", body, "application/json")[0] == 200  # Exotel retried
    outcomes = [("09876543210", "completed", ["c1", "c2"]), ("09812345678", "failed", ["c3"])]
    for number, status, sids in outcomes:
        form = urlencode(
            [
                ("CampaignSid", sid),
                ("To", number),
                ("Status", status),
                ("DateUpdated", "2024-01-15 09:30:00"),
            ]
            + [("CallSids[]", s) for s in sids]
        )
        assert running.post("call-schedule", form, "application/x-www-form-urlencoded")[0] == 200
    reports.routes["/report.csv"] = Route(
        body=b"Number,Status\n09876543210,completed\n09812345678,failed\n09811111111,failed\n"
    )
    final = {"campaign_sid": sid, "status": "Completed", "date_updated": "2024-01-15 10:00:00",
             "report_url": reports.url("/report.csv")}  # fmt: skip
    assert running.post("campaign-status", json.dumps(final), "application/json")[0] == 200

    # When the pipeline has caught up (the counters follow the items within a second or so)
    summary = running.eventually(
        f"/campaigns/{sid}",
        lambda body: (
            (body.get("reconciliation") or {}).get("report_rows") == 3
            and body["numbers"]["total"] == 3
            and body["attempts"]["total"] == 4
        ),
    )

    # Then the read API shows every count, the report and its reconciliation
    assert summary["status"] == "Completed"
    assert summary["attempts"] == {
        "total": 4,
        "by_status": {"busy": 1, "completed": 1, "failed": 1, "no-answer": 1},
    }
    assert summary["numbers"] == {"total": 3, "by_status": {"completed": 1, "failed": 2}}
    assert summary["report"]["status"] == "stored"
    assert summary["reconciliation"] == {
        "source": "report",
        "report_rows": 3,
        "matched": 2,
        "backfilled": 1,
        "mismatched": 0,
        "unparseable": 0,
    }
    code, retried = running.get(f"/campaigns/{sid}/numbers/{quote('+919876543210')}")
    assert (code, retried["status"], retried["call_sids"]) == (200, "completed", ["c1", "c2"])
    published = [event["detail-type"] for event in running.stack.events]
    assert published.count("CallScheduleCompleted") == 2
    assert "CampaignCompleted" in published


def test_webhooks_answer_as_the_contract_says_over_http(running: Running) -> None:
    assert running.post("call-status", "{}", "application/json")[1]["status"] == "quarantined"
    request = urllib.request.Request(  # noqa: S310
        f"{running.base}/webhooks/exotel/call-status?token=wrong", data=b"{}", method="POST"
    )
    assert _send(request)[0] == 401
    assert running.get("/campaigns/never-seen")[0] == 404


def test_a_poison_message_lands_in_the_local_dead_letter_queue(running: Running) -> None:
    # Given the call-status queue redelivers after 1 s instead of 180 s
    sqs = boto3.client("sqs", region_name=REGION, endpoint_url=running.stack.endpoint)
    source = running.stack.deployment.event_source_of("CallStatusProcessorFunction")
    sqs.set_queue_attributes(QueueUrl=source.queue_url, Attributes={"VisibilityTimeout": "1"})
    time.sleep(2.5)  # a receive already waiting (1 s long poll) would still hide it for 180 s

    # When a message no processor can read is put on it
    sqs.send_message(QueueUrl=source.queue_url, MessageBody="not a queued callback")

    # Then, after maxReceiveCount failed deliveries, the queue moves it to its DLQ
    dead_letter_queue = running.stack.deployment.physical_id("CallStatusDeadLetterQueue")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=dead_letter_queue, WaitTimeSeconds=1)
        if messages.get("Messages"):
            assert messages["Messages"][0]["Body"] == "not a queued callback"
            return
    raise AssertionError("the poison message never reached the dead-letter queue")


def test_the_campaign_simulator_finds_every_count_right(
    running: Running, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a simulated campaign of 20 numbers, duplicated, shuffled, with lost callbacks
    # When make demo's simulator plays it and reads the results back
    played = play(running.base, TOKEN, count=20, seed=3, call_details=True)

    # Then every count it checks matches the simulated truth, the campaign's cost too
    table = capsys.readouterr().out
    assert played.ok, table
    assert played.accepted == played.webhooks
    assert "all counts match" in table
    assert "| cost.total " in table
    assert "cost (Exotel's call details): INR " in table


def test_the_simulator_with_lost_callbacks_is_completed_by_a_sweep(
    running: Running, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given make demo SWEEP=1's campaign: a fifth of its callbacks lost for good, no final status
    # When it is played, then swept through the simulated Campaign API
    ok = play_lost_callbacks(running.base, TOKEN, running.stack.endpoint, count=20, seed=5)

    # Then the read API holds the whole truth, and says what the sweep recovered
    table = capsys.readouterr().out
    assert ok, table
    assert "from Exotel's Campaign API" in table


def test_operations_commands_work_on_the_local_stack(running: Running, tmp_path: Path) -> None:
    # Given the operations commands pointed at the running stack, as `LOCAL=1` does
    write_state(running.stack, running.base, TOKEN, tmp_path / "stack.json")
    target = Target.local(tmp_path / "stack.json")

    # When a request is quarantined, Then its receiver log line can be read back
    status, answer = running.post("call-status", '{"campaign_sid": "camp_ops"}', "application/json")
    assert (status, answer["status"]) == (200, "quarantined")
    deadline = time.monotonic() + 30
    lines: list[dict[str, Any]] = []
    while not any(line.get("event_id") == answer["event_id"] for line in lines):
        assert time.monotonic() < deadline, "the log line never reached the log group"
        time.sleep(0.5)
        lines = [json.loads(line) for line in log_lines(target, "ReceiverFunction")]
    # And it is listed, and a replay (still unusable) marks it so the next replay skips it
    listed = [r for r in quarantined(target) if r.key.endswith(f"{answer['event_id']}.json")]
    assert [r.reason for r in listed] == [answer["reason"]]
    assert [r.outcome for r in replay(target, keys=[listed[0].key])] == ["quarantined"]
    assert [r.outcome for r in replay(target, keys=[listed[0].key])] == ["skipped"]

    # When a callback waits in a dead-letter queue and is redriven
    sqs = boto3.client("sqs", region_name=REGION, endpoint_url=running.stack.endpoint)
    callback = {
        "campaign_sid": "camp_ops",
        "call_sid": "call_ops",
        "number": "+919876543210",
        "status": "busy",
        "date_updated": "2026-11-26T10:00:00+05:30",
    }
    sent = decode_fields(json.dumps(callback).encode(), "application/json")
    now = datetime.now(UTC)
    event = build_callback(CallbackType.CALL_STATUS, sent, NormalisationRules(), now)
    sqs.send_message(
        QueueUrl=target.physical_id("CallStatusDeadLetterQueue"),
        MessageBody=event.queued_event(now),
    )
    moved = redrive(target, Template.load(), "CallStatusDeadLetterQueue")

    # Then it is stored like any other callback
    assert moved.moved == 1
    stored = running.eventually("/campaigns/camp_ops", lambda body: body["attempts"]["total"] == 1)
    assert stored["attempts"]["by_status"] == {"busy": 1}

    # When the last hour's archived campaign events are replayed (make replay-events LOCAL=1)
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    started = replay_events(target, f"{hour_ago:%Y-%m-%dT%H:%M}Z", "2999-01-01")

    # Then the local bus's archive starts the replay
    assert started.archive == target.physical_id("CampaignEventArchive")
    assert "every rule of the bus" in started.summary()


def dataset_objects(s3: Any, bucket: str) -> list[dict[str, Any]]:
    rows = []
    for stored in s3.list_objects_v2(Bucket=bucket, Prefix="analytics/").get("Contents", []):
        body = gzip.decompress(s3.get_object(Bucket=bucket, Key=stored["Key"])["Body"].read())
        rows += [json.loads(line) for line in body.splitlines()]
    return rows


def test_erasing_a_subscriber_removes_every_trace_and_is_idempotent(
    running: Running, reports: ReportServer, tmp_path: Path
) -> None:
    # Given a finished campaign whose report names two numbers, one of them to be erased
    sid, erased, kept = "camp_local_erase", "+919800000071", "+919800000072"
    for call_sid, number in (("e1", erased), ("e2", erased), ("e3", kept)):
        body = json.dumps({"campaign_sid": sid, "call_sid": call_sid, "number": number,
                           "status": "busy", "date_updated": "2024-01-15 09:01:00"})  # fmt: skip
        assert running.post("call-status", body, "application/json")[0] == 200
    outcome = {"campaign_sid": sid, "to": erased, "status": "busy", "call_sids": ["e1", "e2"],
               "date_updated": "2024-01-15 09:30:00"}  # fmt: skip
    assert running.post("call-schedule", json.dumps(outcome), "application/json")[0] == 200
    reports.routes["/erase.csv"] = Route(
        body=f"Number,Status\n{erased},busy\n{kept},completed\n".encode()
    )
    final = {"campaign_sid": sid, "status": "Completed", "date_updated": "2024-01-15 10:00:00",
             "report_url": reports.url("/erase.csv")}  # fmt: skip
    assert running.post("campaign-status", json.dumps(final), "application/json")[0] == 200
    running.eventually(f"/campaigns/{sid}", lambda body: body.get("reconciliation") is not None)
    write_state(running.stack, running.base, TOKEN, tmp_path / "stack.json")
    target = Target.local(tmp_path / "stack.json")

    # When the subscriber is erased, as `make erase NUMBER=... LOCAL=1` does, and again
    first = erase_number(target, "098000 00071")
    second = erase_number(target, erased)

    # Then its attempts, its outcome and its report row are gone, the campaign counts what is
    # left, and the second run finds nothing
    assert (first.attempts, first.outcomes, sum(first.report_rows.values())) == (2, 1, 1)
    assert (second.attempts, second.outcomes, sum(second.report_rows.values())) == (0, 0, 0)
    assert running.get(f"/campaigns/{sid}/numbers/{quote(erased)}")[0] == 404
    summary = running.eventually(
        f"/campaigns/{sid}", lambda body: body["attempts"]["total"] == 1
    )  # the stream takes the erased items out of the counters
    assert summary["attempts"] == {"total": 1, "by_status": {"busy": 1}}
    assert summary["numbers"] == {"total": 1, "by_status": {"completed": 1}}
    assert summary["report"]["rows"] == 1
    # And no version of the stored report still holds the erased number
    s3 = target.client("s3")
    bucket, key = summary["report"]["s3_uri"].removeprefix("s3://").split("/", 1)
    versions = s3.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", [])
    assert len(versions) == 1
    stored = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    assert erased not in stored
    assert kept in stored
    # And the analytics dataset holds no row of it, once its removals had landed
    assert first.removals_unseen == 0
    assert sum(first.dataset_rows.values()) >= 3  # its two attempts and its outcome, at least
    hashed = target.campaign_table().subscriber_hash(erased)
    for stored_row in dataset_objects(s3, bucket):
        assert stored_row.get("number_hash") != hashed


def test_make_smoke_passes_on_the_local_stack_and_leaves_nothing(running: Running) -> None:
    # Given the local stack as the operations commands see it
    target = Target(
        STACK_NAME,
        REGION,
        endpoint=running.stack.endpoint,
        local_base_url=running.base,
        local_tokens=(TOKEN,),
    )

    # When the smoke test runs
    report = smoke(target)

    # Then every check passed, the signature check is reported as skipped (not as passed) ...
    assert len(report.passed) == 6
    assert report.skipped == ["an unsigned read gets 403 (the local read API needs no signature)"]
    # ... and the synthetic campaign is gone
    assert running.get(f"/campaigns/{report.campaign_sid}")[0] == 404


def test_make_invoke_local_runs_a_function_against_the_running_stacks_data(
    running: Running, tmp_path: Path
) -> None:
    # Given a campaign the running stack holds, and its state file
    sid = "camp_invoke_local"
    body = json.dumps({"campaign_sid": sid, "status": "InProgress",
                       "date_updated": "2024-01-15 09:00:00"})  # fmt: skip
    assert running.post("campaign-status", body, "application/json")[0] == 200
    running.eventually(f"/campaigns/{sid}", lambda summary: summary["status"] == "InProgress")
    write_state(running.stack, running.base, TOKEN, tmp_path / "stack.json")
    event = json.loads((PROJECT_ROOT / "events/read_api/get-campaign.json").read_text())
    event["rawPath"] = f"/campaigns/{sid}"
    event["pathParameters"] = {"campaign_sid": sid}
    (tmp_path / "event.json").write_text(json.dumps(event))

    # When the read API function is invoked on it with --local (make invoke LOCAL=1)
    result = subprocess.run(  # noqa: S603 - this interpreter, the project's module
        [sys.executable, "-m", "localaws.invoke", "ReadApiFunction", str(tmp_path / "event.json"),
         "--local", "--state", str(tmp_path / "stack.json")],
        capture_output=True, text=True, check=False, cwd=PROJECT_ROOT, timeout=120,
    )  # fmt: skip

    # Then it answers from that stack's data
    assert result.returncode == 0, result.stderr
    response = json.loads(result.stdout)
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["status"] == "InProgress"


def lost_callbacks(running: Running, exotel_api: dict[str, list[dict[str, Any]]], sid: str) -> None:
    """A campaign of 6 numbers, 10 attempts, of which Exotel delivered only every third call
    status callback, no call schedule callback and no final status; its truth is on the
    simulated Campaign API."""
    rows = []
    for n in range(6):
        statuses = ["busy", "completed"] if n < 4 else ["no-answer"]
        for attempt, status in enumerate(statuses):
            at = f"2024-01-15T09:{n:02d}:{attempt}"
            rows.append({"call_sid": f"{sid}_{n}_{attempt}", "number": f"+9198765000{n:02d}",
                         "status": status, "date_created": f"{at}0+05:30",
                         "end_time": f"{at}5+05:30"})  # fmt: skip
    exotel_api[sid] = rows
    delivered = rows[::3]
    for row in delivered:
        body = {"campaign_sid": sid, "call_sid": row["call_sid"], "number": row["number"],
                "status": row["status"], "date_updated": row["end_time"]}  # fmt: skip
        assert running.post("call-status", json.dumps(body), "application/json")[0] == 200
    progress = {"campaign_sid": sid, "status": "InProgress",
                "date_updated": "2024-01-15T09:00:00+05:30"}  # fmt: skip
    assert running.post("campaign-status", json.dumps(progress), "application/json")[0] == 200
    running.eventually(
        f"/campaigns/{sid}", lambda body: body["attempts"]["total"] == len(delivered)
    )


def assert_the_whole_truth(running: Running, sid: str) -> dict[str, Any]:
    summary = running.eventually(f"/campaigns/{sid}", lambda body: body["numbers"]["total"] == 6)
    assert summary["status"] == "Completed"
    assert summary["attempts"] == {"total": 10, "by_status": {"busy": 4, "completed": 4,
                                                              "no-answer": 2}}  # fmt: skip
    assert summary["numbers"] == {"total": 6, "by_status": {"completed": 4, "no-answer": 2}}
    assert summary["sweep"]["attempts_recovered"] == 6
    return summary


def test_a_campaign_with_lost_callbacks_and_no_final_status_is_completed_by_a_sweep(
    running: Running, exotel_api: dict[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    # Given a campaign whose callbacks were partly lost, and no final status
    sid = "camp_swept"
    lost_callbacks(running, exotel_api, sid)
    write_state(running.stack, running.base, TOKEN, tmp_path / "stack.json")
    target = Target.local(tmp_path / "stack.json")
    environ = exotel_environment(running.exotel_host)

    # When the campaign is swept (make sweep CAMPAIGN=... LOCAL=1)
    report = sweep_campaign(target, sid, environ)

    # Then what was lost is recovered, and the ledger holds exactly the truth
    assert (report.attempts_recovered, report.numbers_recovered) == (6, 6)
    summary = assert_the_whole_truth(running, sid)

    # And a second sweep recovers nothing and changes no count
    again = sweep_campaign(target, sid, environ)
    assert (again.attempts_recovered, again.numbers_recovered) == (0, 0)
    assert running.get(f"/campaigns/{sid}")[1]["attempts"] == summary["attempts"]
    # And wrong credentials are one clear refusal
    with pytest.raises(CampaignApiRefused, match="HTTP 401"):
        sweep_campaign(target, sid, {**environ, "EXOTEL_API_TOKEN": "wrong"})


def test_make_local_sweeps_on_the_stacks_schedule(
    running: Running, exotel_api: dict[str, list[dict[str, Any]]]
) -> None:
    # Given a quiet campaign whose callbacks were partly lost, on a stack with a Campaign API
    sid = "camp_scheduled"
    lost_callbacks(running, exotel_api, sid)
    schedules = {s.function: s for s in running.stack.deployment.schedules}
    schedule = schedules["SweepFunction"]
    assert schedule.every_seconds == 15 * 60

    # When the schedule fires (as it does every SweepEveryMinutes)
    answer = running.stack.fire(schedule)

    # Then the campaign was due and swept, and the ledger holds exactly the truth
    assert any(line.startswith(f"{sid}: 6 attempts and 6 numbers") for line in answer["swept"])
    assert_the_whole_truth(running, sid)


def test_make_local_watches_for_silent_campaigns_with_or_without_a_campaign_api(
    running: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a running campaign whose callbacks stopped two hours ago
    sid = "camp_silent_local"
    assert running.post("call-status", json.dumps(
        {"campaign_sid": sid, "call_sid": "s1", "number": "+919876543210", "status": "busy",
         "date_updated": "2024-01-15 09:01:00"}), "application/json")[0] == 200  # fmt: skip
    running.eventually(f"/campaigns/{sid}", lambda body: body["attempts"]["total"] == 1)
    dynamodb = boto3.client("dynamodb", region_name=REGION, endpoint_url=running.stack.endpoint)
    ledger = CampaignTable(dynamodb, running.stack.deployment.physical_id("CampaignTable"))
    hours_ago = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)
    for item in ledger.campaign_items(sid):
        if item.get("heard"):
            shard = str(item["SK"]).removeprefix("#COUNTER#")
            ledger.note_heard(sid, shard, str(utc_text(hours_ago)))

    # When make local's silence schedule fires (it runs without a Campaign API too)
    monkeypatch.delenv("EXOTEL_API_URL", raising=False)
    watched = [s for s in scheduled(running.stack.deployment) if s.function != "SweepFunction"]
    assert [s.function for s in watched] == ["SilenceWatchFunction"]
    answer = running.stack.fire(watched[0])

    # Then the campaign is announced silent, and the read API says since when
    assert sid in answer["silent"]
    silent = running.eventually(f"/campaigns/{sid}", lambda body: body["silent_since"] is not None)
    assert silent["silent_since"] == silent["last_callback_at"] == utc_text(hours_ago)
    assert "CampaignSilent" in [event["detail-type"] for event in running.stack.events]


# A function as SAM's container runs it: its module loaded from its code directory, the event
# handed over, the answer printed (the package on the path, as the layer puts it).
RUN_AS_SAM_DOES = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("handler", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
class Context:
    function_name, function_version, memory_limit_in_mb = "ReceiverFunction", "$LATEST", 512
    aws_request_id = "sam"
    invoked_function_arn = "arn:aws:lambda:ap-south-1:123456789012:function:ReceiverFunction"
    def get_remaining_time_in_millis(self): return 10000
print(json.dumps(module.handler(json.loads(sys.argv[2]), Context())))
"""


def test_make_sam_env_runs_a_function_as_sam_would_against_the_local_stack(
    running: Running, tmp_path: Path
) -> None:
    # Given make sam-env LOCAL=1's file for the running stack
    write_state(running.stack, running.base, TOKEN, tmp_path / "stack.json")
    environment = sam_environment(Target.local(tmp_path / "stack.json"), Template.load())
    environment.write(tmp_path / "env.json")
    variables = json.loads((tmp_path / "env.json").read_text())["ReceiverFunction"]
    assert variables["AWS_ENDPOINT_URL"] == running.stack.endpoint
    assert environment.warning is not None  # on loopback: containers could not reach it

    # When the receiver runs with only those variables, SAM's stand-in credentials, the region
    # and AWS_SAM_LOCAL (what SAM hands a container), on a sample whose stamp is SAM's
    event = json.loads((PROJECT_ROOT / "tests/data/sam/start-api-call-status.json").read_text())
    event["rawQueryString"], event["queryStringParameters"] = f"token={TOKEN}", {"token": TOKEN}
    event["body"] = event["body"].replace("camp_abc123", "camp_sam_env")
    result = subprocess.run(  # noqa: S603 - this interpreter, the project's handler
        [sys.executable, "-c", RUN_AS_SAM_DOES,
         str(PROJECT_ROOT / "functions/receiver/receiver.py"), json.dumps(event)],
        env={**variables, "AWS_ACCESS_KEY_ID": "defaultkey", "AWS_SECRET_ACCESS_KEY": "x",
             "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION, "AWS_SAM_LOCAL": "true",
             "PYTHONPATH": str(PROJECT_ROOT / "src")},
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip

    # Then it answers accepted, and the callback reaches that stack's ledger
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert (answer["statusCode"], json.loads(answer["body"])["status"]) == (200, "accepted")
    running.eventually("/campaigns/camp_sam_env", lambda body: body["attempts"]["total"] == 1)
