"""The analytics dataset (docs/architecture.md, "The analytics dataset"): the ledger's stream as
rows in S3, its Glue table, Athena workgroup and named queries, and `make analytics`. That the
queries answer a campaign's truth whatever the delivery order is checked with the ledger's
delivery property (tests/stack/test_ledger.py)."""

from __future__ import annotations

import gzip
import json
from typing import Any

import boto3
import pytest
import sqlglot

from localaws.analytics import ROWS_PREFIX, dataset_columns, queries
from localaws.emulation import REGION, STACK_NAME, Deployment
from localaws.template import Template
from ops.__main__ import main
from ops.target import Target
from tests.support.analytics import dataset_answers
from tests.support.pipeline import Pipeline
from tests.support.stack import AwsCalls

pytestmark = pytest.mark.enable_socket  # the pipeline serves reports over HTTP
SID = "camp_analytics"


def dataset_rows(stack: Deployment, every_version: bool = False) -> list[dict[str, Any]]:
    """The rows of the dataset's objects (of every version of them, kept or not)."""
    s3 = boto3.client("s3", region_name=REGION)
    bucket = stack.physical_id("ReportBucket")
    listed = s3.list_object_versions(Bucket=bucket, Prefix=ROWS_PREFIX).get("Versions", [])
    rows = []
    for stored in listed:
        if not (every_version or stored["IsLatest"]):
            continue
        body = s3.get_object(Bucket=bucket, Key=stored["Key"], VersionId=stored["VersionId"])
        rows += [json.loads(line) for line in gzip.decompress(body["Body"].read()).splitlines()]
    return rows


def attempt(call_sid: str, number: str, status: str, created: str, **extra: Any) -> dict[str, Any]:
    return {
        "campaign_sid": SID,
        "call_sid": call_sid,
        "number": number,
        "status": status,
        "date_created": created,
        "date_updated": created,
        **extra,
    }


def outcome(number: str, status: str, call_sids: list[str]) -> dict[str, Any]:
    return {
        "campaign_sid": SID,
        "to": number,
        "call_sids": call_sids,
        "status": status,
        "date_updated": "2026-11-30 19:00:00",
    }


def run_campaign(pipeline: Pipeline) -> None:
    """Three numbers: one connects at its second attempt (talking 95 s), one stays busy, and a
    masked one connects at its third, each retry stored under its own call SID."""
    for fields in (
        attempt("c1", "+919800000001", "busy", "2026-11-30 09:10:00"),
        attempt("c2", "+919800000001", "completed", "2026-11-30 11:10:00", Duration="95"),
        attempt("c3", "+919800000002", "busy", "2026-11-30 09:20:00"),
        attempt("c4", "+919800000002", "no-answer", "2026-11-30 11:20:00"),
        attempt("m1", "0XXXXXX4890", "failed", "2026-11-30 09:30:00"),
        attempt("m2", "0XXXXXX4890", "no-answer", "2026-11-30 10:30:00"),
        attempt("m3", "0XXXXXX4890", "completed", "2026-11-30 11:30:00"),
    ):
        assert pipeline.webhook("call-status", fields) == 200
    for fields in (
        outcome("+919800000001", "completed", ["c1", "c2"]),
        outcome("+919800000002", "no-answer", ["c3", "c4"]),
        outcome("0XXXXXX4890", "completed", ["m1", "m2", "m3"]),
    ):
        assert pipeline.webhook("call-schedule", fields) == 200
    pipeline.drain()


def test_the_queries_answer_a_campaign_with_retries_masks_and_talk_time(
    pipeline: Pipeline, stack: Deployment
) -> None:
    # Given a campaign whose calls were dialled at 09:xx, 10:xx and 11:xx India time
    run_campaign(pipeline)

    # When the queries are asked of its dataset
    answers = dataset_answers(stack, SID)

    # Then connect rates are by the hour in the campaign's zone and by attempt, the masked
    # number's three retries counting as one number's first, second and third
    by_hour = answers["connect_rate_by_hour"]
    assert [(r["hour"], r["attempts"], r["connected"]) for r in by_hour] == [
        (9, 3, 0),
        (10, 1, 0),
        (11, 3, 2),
    ]
    by_attempt = answers["connect_rate_by_attempt"]
    assert [(r["attempt_number"], r["attempts"], r["connected"]) for r in by_attempt] == [
        (1, 3, 0),
        (2, 3, 1),
        (3, 1, 1),
    ]
    assert [(r["attempts"], r["numbers"]) for r in answers["attempts_per_connect"]] == [
        (2, 1),
        (3, 1),
    ]
    assert [(r["status"], r["numbers"]) for r in answers["outcome_mix"]] == [
        ("completed", 2),
        ("no-answer", 1),
    ]
    # and the one talk time a callback carried is banded
    assert [(r["from_seconds"], r["calls"], r["talk_seconds"]) for r in answers["talk_time"]] == [
        (60, 1, 95)
    ]
    assert [(r["status"], r["numbers"]) for r in answers["redial_counts"]] == [("no-answer", 1)]


def test_no_row_holds_a_phone_number(pipeline: Pipeline, stack: Deployment) -> None:
    # Given a campaign stored, its rows delivered
    run_campaign(pipeline)
    rows = dataset_rows(stack)

    # Then there are rows of every kind, and no digit run of a number is in any of them
    assert {row["kind"] for row in rows} == {"attempt", "outcome"}
    text = json.dumps(rows)
    for digits in ("9800000001", "9800000002", "4890"):
        assert digits not in text
    # and every row's fields are the Glue table's columns
    assert set().union(*rows) <= set(dataset_columns())


def test_an_erased_number_leaves_the_answers_and_the_dataset(
    pipeline: Pipeline, stack: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a campaign whose rows are in the dataset, each object also kept as an earlier
    # version (as the versioned bucket keeps what is rewritten or expires), and an Athena
    # answer that named the subscriber's hash
    run_campaign(pipeline)
    table = Target(STACK_NAME, REGION).campaign_table()
    erased = {table.subscriber_hash("+919800000002")}
    assert any(row.get("number_hash") in erased for row in dataset_rows(stack))
    s3 = boto3.client("s3", region_name=REGION)
    bucket = stack.physical_id("ReportBucket")
    for stored in s3.list_objects_v2(Bucket=bucket, Prefix=ROWS_PREFIX)["Contents"]:
        body = s3.get_object(Bucket=bucket, Key=stored["Key"])["Body"].read()
        s3.put_object(Bucket=bucket, Key=stored["Key"], Body=body)
    answer = f"number_hash,status\n{next(iter(erased))},no-answer\n".encode()
    s3.put_object(Bucket=bucket, Key="athena-results/q1.csv", Body=answer)

    # When one number is erased from the campaign, the stream's consumers running while the
    # erasure waits for the dataset to show the removals (as Lambda runs them meanwhile)
    monkeypatch.setattr("ops.erase.dataset_catch_up_seconds", lambda _target: 60.0)
    monkeypatch.setattr("ops.erase.time.sleep", lambda _seconds: pipeline.drain())
    assert main(["--stack", STACK_NAME, "erase", "+919800000002", "--campaign", SID]) == 0
    pipeline.drain()

    # Then no version of any object of the dataset holds a row of it, nor the rows saying its
    # items were removed (their item hashes are keyed with its number)
    rows = dataset_rows(stack, every_version=True)
    assert not any(row.get("number_hash") in erased for row in rows)
    assert not any(row["removed"] for row in rows)
    # and no Athena answer naming it is kept
    results = s3.list_object_versions(Bucket=bucket, Prefix="athena-results/")
    assert not results.get("Versions")
    # and the answers are the campaign's without it
    answers = dataset_answers(stack, SID)
    assert [(r["status"], r["numbers"]) for r in answers["outcome_mix"]] == [("completed", 2)]
    assert answers["redial_counts"] == []
    assert sum(r["attempts"] for r in answers["connect_rate_by_hour"]) == 5


def test_a_campaign_is_compared_with_those_before_it(pipeline: Pipeline, stack: Deployment) -> None:
    # Given three campaigns created a day apart
    for day, sid in ((1, "camp_a"), (2, "camp_b"), (3, "camp_c")):
        created = f"2026-11-0{day} 09:00:00"
        fields = {"campaign_sid": sid, "status": "InProgress", "date_created": created}
        assert pipeline.webhook("campaign-status", fields) == 200
        call = attempt(f"{sid}-1", "+919800000001", "completed", created) | {"campaign_sid": sid}
        assert pipeline.webhook("call-status", call) == 200
        number = outcome("+919800000001", "completed", [f"{sid}-1"]) | {"campaign_sid": sid}
        assert pipeline.webhook("call-schedule", number) == 200
    pipeline.drain()

    # When the second is compared with one before it
    compared = dataset_answers(stack, "camp_b", previous=1)["compare_campaigns"]

    # Then it comes first, the one before it next, and the later one not at all
    assert [(r["campaigns_back"], r["campaign_sid"]) for r in compared] == [
        (0, "camp_b"),
        (1, "camp_a"),
    ]
    assert [(r["numbers"], r["connected_numbers"], r["attempts"]) for r in compared] == [
        (1, 1, 1),
        (1, 1, 1),
    ]


def test_the_named_queries_are_the_files(template: Template) -> None:
    # Given the template's named queries
    named = {
        resource["Properties"]["Name"]: resource["Properties"]
        for resource in template.resources_of_type("AWS::Athena::NamedQuery").values()
    }

    # Then there is one per file, holding its text, and each reads as Athena's dialect and
    # transpiles to DuckDB's
    files = queries()
    assert set(named) == set(files)
    for name, query in files.items():
        assert named[name]["QueryString"] == query.text, name
        assert named[name]["Description"] == query.description, name
        sqlglot.parse_one(query.text, read="trino")
        assert query.in_duckdb()
        assert query.parameters in (1, 2), name


def test_the_stack_has_the_dataset_table_workgroup_and_queries(stack: Deployment) -> None:
    # Given the deployed stack's outputs
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    described = cloudformation.describe_stacks(StackName=STACK_NAME)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}

    # Then Glue has the table, its dates projected onto where Firehose writes them
    glue = boto3.client("glue", region_name=REGION)
    database = outputs["AnalyticsDatabaseName"]
    assert database.startswith("exotel_")
    assert "-" not in database  # Athena's names take none
    table = glue.get_table(DatabaseName=database, Name="ledger_rows")["Table"]
    bucket = stack.physical_id("ReportBucket")
    assert table["Parameters"]["storage.location.template"] == (
        f"s3://{bucket}/{ROWS_PREFIX}dt=${{dt}}/"
    )
    firehose = boto3.client("firehose", region_name=REGION)
    stream = firehose.describe_delivery_stream(
        DeliveryStreamName=outputs["AnalyticsDeliveryStreamName"]
    )["DeliveryStreamDescription"]
    destination = stream["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert destination["Prefix"] == f"{ROWS_PREFIX}dt=!{{timestamp:yyyy-MM-dd}}/"
    assert destination["CompressionFormat"] == "GZIP"

    # and Athena the workgroup, its scans capped, with every named query in it
    athena = boto3.client("athena", region_name=REGION)
    workgroup = athena.get_work_group(WorkGroup=outputs["AnalyticsWorkGroupName"])["WorkGroup"]
    assert workgroup["Configuration"]["BytesScannedCutoffPerQuery"] == 10 * 1024**3
    ids = athena.list_named_queries(WorkGroup=outputs["AnalyticsWorkGroupName"])["NamedQueryIds"]
    stored = {athena.get_named_query(NamedQueryId=i)["NamedQuery"]["Name"]: i for i in ids}
    assert set(stored) == set(queries())


def test_make_analytics_asks_athena_in_the_stacks_workgroup(
    stack: Deployment, aws_calls: AwsCalls, capsys: pytest.CaptureFixture[str]
) -> None:
    # When `make analytics` asks one query of a deployed stack
    code = main(["--stack", STACK_NAME, "analytics", "it's-camp", "--query", "outcome_mix"])

    # Then it runs the named query's text in the workgroup, the campaign quoted as text
    assert code == 0, capsys.readouterr().err
    (started,) = aws_calls.of("StartQueryExecution")
    assert started["QueryString"] == queries()["outcome_mix"].text
    assert started["WorkGroup"] == f"{STACK_NAME}-analytics"
    assert started["ExecutionParameters"] == ["'it''s-camp'"]
    assert "# outcome_mix:" in capsys.readouterr().out


def test_make_analytics_refuses_an_unknown_query_in_one_line(
    stack: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--stack", STACK_NAME, "analytics", SID, "--query", "nope"]) == 2
    said = capsys.readouterr().err
    assert said.startswith("analytics: no query named 'nope'")
    assert len(said.splitlines()) == 1


def test_the_dataset_and_the_summary_pages_expire_with_the_ledger(template: Template) -> None:
    # Given the report bucket's lifecycle rules (moto's CloudFormation does not apply them)
    rules = template.resources["ReportBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    conditional = {rule["Fn::If"][1]["Id"]: rule["Fn::If"] for rule in rules if "Fn::If" in rule}

    # Then the dataset's objects and the pages expire after DataRetentionDays, unless the
    # ledger keeps everything (0)
    for rule_id, prefix in (("ExpireAnalytics", "analytics/"), ("ExpireSummaries", "summaries/")):
        condition, rule, otherwise = conditional[rule_id]
        assert rule == {
            "Id": rule_id,
            "Status": "Enabled",
            "Prefix": prefix,
            "ExpirationInDays": {"Ref": "DataRetentionDays"},
        }
        assert otherwise == {"Ref": "AWS::NoValue"}
        assert template.sam["Conditions"][condition] == {
            "Fn::Not": [{"Fn::Equals": [{"Ref": "DataRetentionDays"}, 0]}]
        }
