"""The cost model's arithmetic: what follows from a load point and the template's settings."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bench.bill import Campaigns, monthly, read_arguments
from bench.cost_model import (
    ONE_CAMPAIGN,
    SUSTAINED,
    Bill,
    Counted,
    Deployed,
    Mapping,
    Received,
    dataset_usd,
    fixed_monthly,
    per_report_row,
    per_webhook,
    positive_number,
    records_per_batch,
    stream_share,
    traced_share,
    with_settings,
)
from bench.metering import LOG_EVENT_OVERHEAD_BYTES
from bench.prices import AP_SOUTH_1, US_EAST_1
from localaws.template import Template

RECEIVED = Received(aws_calls=1, cpu_ms=0.7, log_bytes=250, emf_bytes=300)
NEW_ATTEMPT = Counted(
    function="CallStatusProcessorFunction",
    aws_calls=3,
    cpu_ms=1.2,
    read_units=1,
    write_units=2,
    log_bytes=240,
    emf_bytes=380,
    event_entries=0,
    queue_sends=0,
    stream_records=1,
    counter_write_units=1,
    stream_log_bytes=0,
)


@pytest.fixture(scope="module")
def deployed() -> Deployed:
    return Deployed.of(Template.load(), LOG_EVENT_OVERHEAD_BYTES)


def test_the_template_settings_the_bill_depends_on_are_read_from_it(deployed: Deployed) -> None:
    # Given the template as deployed, then the model reads its functions, mappings and alarms
    assert deployed.queues["CallStatusProcessorFunction"].batch_size == 10
    assert deployed.stream.tumbling_seconds > 0
    assert deployed.memory_mb["ReceiverFunction"] >= 128
    assert deployed.tracing in {"PassThrough", "Active"}
    # a metric math alarm is billed per metric it reads: more alarm metrics than alarms
    alarms = sum(
        1 for r in Template.load().resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"
    )
    assert deployed.alarm_metrics > alarms
    assert deployed.access_log_bytes > LOG_EVENT_OVERHEAD_BYTES


def test_a_queue_the_defaults_do_not_create_is_not_polled_on_the_bill(deployed: Deployed) -> None:
    # Given CallDetails off by default: its function and queue exist only under a condition
    # Then the bill's idle polling counts the four queues every stack has, not five
    assert set(deployed.queues) == {
        "CallStatusProcessorFunction",
        "CallScheduleProcessorFunction",
        "CampaignStatusProcessorFunction",
        "ReportFetcherFunction",
    }


def test_a_batch_fills_with_what_arrives_in_its_window_up_to_its_size() -> None:
    one_second = Mapping(batch_size=10, window_seconds=1)
    assert records_per_batch(one_second, 100) == 10
    assert records_per_batch(one_second, 4) == 4
    assert records_per_batch(one_second, 0.2) == 1  # the record that woke the poller


def test_the_stream_shares_its_invocations_and_counters_among_a_windows_records() -> None:
    mapping = Mapping(batch_size=1000, window_seconds=1, tumbling_seconds=5)
    # Given one campaign at 20/s over 4 shards: 5 records an invocation, one counter write
    one = stream_share(mapping, 20, 1)
    assert one.records_per_invocation == 5
    assert one.counter_writes == pytest.approx(1 / 5)
    # a window's close is one more invocation a shard every 5 s
    assert one.invocations == pytest.approx(1 / 5 + (1 / 5) / 5)
    # When the window is longer, fewer invocations and counter writes per record
    longer = stream_share(Mapping(1000, 5, 5), 20, 1)
    assert longer.invocations < one.invocations
    assert longer.counter_writes < one.counter_writes
    # When 25 campaigns share the stream, each invocation writes a counter for most of them
    many = stream_share(mapping, 500, 25)
    assert 0.15 < many.counter_writes < 25 / 125


def test_xray_traces_the_reservoirs_first_request_a_second_then_five_percent() -> None:
    assert traced_share(1) == 1
    assert traced_share(21) == pytest.approx(2 / 21)
    assert traced_share(0.5) == 1


def test_the_ingress_and_tracing_change_only_their_own_lines(deployed: Deployed) -> None:
    http = per_webhook(RECEIVED, NEW_ATTEMPT, SUSTAINED, deployed, US_EAST_1)
    url = per_webhook(
        RECEIVED,
        NEW_ATTEMPT,
        SUSTAINED,
        with_settings(deployed, ingress="FunctionUrl", tracing=None),
        US_EAST_1,
    )
    assert http.lines["API Gateway"] == US_EAST_1.http_api_per_million
    assert url.lines["API Gateway"] == url.lines["API access log"] == 0
    # and brings its own 5xx alarm
    url_stack = with_settings(deployed, ingress="FunctionUrl", tracing=None)
    assert url_stack.alarm_metrics == deployed.alarm_metrics + 1
    assert http.total - url.total == pytest.approx(
        http.lines["API Gateway"] + http.lines["API access log"]
    )
    traced = per_webhook(
        RECEIVED,
        NEW_ATTEMPT,
        ONE_CAMPAIGN,
        with_settings(deployed, ingress=None, tracing="Active"),
        US_EAST_1,
    )
    assert traced.lines["X-Ray"] > 0
    assert http.lines["X-Ray"] == 0 or deployed.tracing == "Active"


def test_a_dearer_region_bills_more_for_the_same_counts(deployed: Deployed) -> None:
    east = per_webhook(RECEIVED, NEW_ATTEMPT, SUSTAINED, deployed, US_EAST_1)
    mumbai = per_webhook(RECEIVED, NEW_ATTEMPT, SUSTAINED, deployed, AP_SOUTH_1)
    assert mumbai.lines["DynamoDB"] > east.lines["DynamoDB"]
    assert mumbai.total > east.total


def test_metrics_secret_reads_and_dataset_objects_are_billed_only_for_hours_with_traffic(
    deployed: Deployed,
) -> None:
    idle = fixed_monthly(deployed, US_EAST_1, metric_series=10, active_hours=0)
    busy = fixed_monthly(deployed, US_EAST_1, metric_series=10, active_hours=720)
    # a month of 10 series, a warm receiver reading the secret every SecretCacheSeconds, and
    # Firehose writing an analytics object every AnalyticsBufferSeconds (an S3 PUT each)
    reads = 720 * 3600 / deployed.secret_cache_seconds * 0.05 / 1e4
    objects = 720 * 3600 / deployed.analytics_buffer_seconds * 0.005 / 1000
    assert sum(busy.values()) - sum(idle.values()) == pytest.approx(10 * 0.30 + reads + objects)
    # and an idle stack pays none of them
    assert all(
        usd == 0
        for name, usd in idle.items()
        if name.startswith(("custom metrics", "webhook", "analytics"))
    )


@pytest.mark.parametrize("text", ["0", "-3", "abc", "", "1e400", "nan", "2.2.2"])
def test_a_number_that_is_not_positive_is_refused_by_name(text: str) -> None:
    with pytest.raises(ValueError, match="NUMBERS must be a positive number"):
        positive_number("NUMBERS", text)


def test_a_positive_number_is_read() -> None:
    assert positive_number("ATTEMPTS", "2.2") == 2.2


def test_make_cost_refuses_a_bad_argument_in_one_line() -> None:
    good = {"NUMBERS": "1000", "ATTEMPTS": "2", "CAMPAIGNS": "3"}
    for bad, message in [
        ({"NUMBERS": ""}, "NUMBERS is required"),
        ({"ATTEMPTS": "two"}, "ATTEMPTS must be a positive number"),
        ({"REGION": "eu-west-1"}, "REGION must be one of us-east-1, ap-south-1"),
        ({"INGRESS": "Alb"}, "INGRESS must be one of HttpApi, FunctionUrl"),
        ({"TRACING": "On"}, "TRACING must be one of PassThrough, Active"),
        ({"RETENTION_DAYS": "-1"}, "RETENTION_DAYS must be a positive number"),
    ]:
        with pytest.raises(ValueError, match=message):
            read_arguments({**good, **bad}, Template.load())
    campaigns, prices, ingress, tracing = read_arguments(good, Template.load())
    assert (campaigns.retention_days, prices.region, ingress, tracing) == (
        0,
        "ap-south-1",
        None,
        None,
    )


def test_a_months_bill_is_each_webhooks_price_times_how_many(deployed: Deployed) -> None:
    # Given 1,000 numbers of 2 attempts in 3 campaigns, each webhook priced at USD 1 a million,
    # and report rows that cost nothing
    campaigns = Campaigns(numbers=1000, attempts=2, campaigns=3, retention_days=30)
    bills = {case: Bill({"line": 1.0}, log_bytes=0) for case in campaigns.webhooks}
    free_row = replace(NEW_ATTEMPT, aws_calls=0, read_units=0, write_units=0, log_bytes=0,
                       stream_records=0)  # fmt: skip
    stored = {"new attempt": 1024**3 // 4000, "new outcome (+event)": 0}
    # When the month is priced
    lines = monthly(
        campaigns,
        bills,
        deployed,
        US_EAST_1,
        report_row=free_row,
        stored_bytes=stored,
        metric_series=0,
    )
    # Then the per-webhook line is 2,000 + 1,000 + 6 webhooks at a millionth of a dollar each
    assert lines["line"] == pytest.approx(3006 / 1e6)
    assert lines["DynamoDB"] == 0
    # and 2,000 attempts of a 4,000th of a GB, kept a month, are half a GB-month
    storage = next(usd for name, usd in lines.items() if name.startswith("DynamoDB storage"))
    assert storage == pytest.approx(0.5 * (0.25 + 0.20), rel=1e-3)


def test_a_report_row_pays_its_calls_units_and_stream_share_not_an_invocation(
    deployed: Deployed,
) -> None:
    # Given a row that reads one unit, writes one and changes one stream record
    row = replace(NEW_ATTEMPT, function="ReportFetcherFunction", aws_calls=1.01)
    bill = per_report_row(row, ONE_CAMPAIGN, deployed, US_EAST_1)
    # Then DynamoDB is its units, and there is no per-row request charge
    assert bill.lines["DynamoDB"] == pytest.approx(1 * 0.125 + 2 * 0.625)
    assert "API Gateway" not in bill.lines
    assert 0 < bill.lines["report fetcher Lambda"] < US_EAST_1.lambda_per_million
    assert bill.lines["ledger stream"] > 0


def test_an_invocations_rows_are_billed_as_one_firehose_record(deployed: Deployed) -> None:
    # Given a new attempt whose stream record makes a 400-byte row
    counted = replace(NEW_ATTEMPT, stream_records=1, dataset_bytes=400)
    # When 25 records share an invocation (10,000 bytes: two 5 KB steps), or 625 (49 steps)
    for load, steps in ((ONE_CAMPAIGN, 2), (SUSTAINED, 49)):
        share = stream_share(deployed.analytics_stream, load.callbacks_per_second, load.campaigns)
        assert share.records_per_invocation * 400 <= steps * 5120
        # Then each row pays its share of the record's steps, of the dataset consumer's
        # invocation and of its one PutRecordBatch call
        billed = steps * 5120 / share.records_per_invocation
        firehose = 1e6 * billed / 1024**3 * US_EAST_1.firehose_per_gb
        invocations = 1e6 * share.invocations
        seconds = invocations * 0.006 * deployed.memory_gb("AnalyticsStreamFunction")
        expected = (
            firehose
            + invocations * US_EAST_1.lambda_per_million / 1e6
            + seconds * US_EAST_1.lambda_arm_per_gb_second
        )
        assert dataset_usd(counted, load, deployed, US_EAST_1) == pytest.approx(expected)
    # and a callback that changed nothing pays nothing
    assert dataset_usd(replace(counted, stream_records=0), SUSTAINED, deployed, US_EAST_1) == 0


def test_the_silence_watch_costs_its_runs_and_half_as_much_half_as_often(
    deployed: Deployed,
) -> None:
    # Given the watch every 5 minutes (8,640 runs a month), then every 10
    line = f"silence watch (every {deployed.silence_check_minutes} min)"
    every_five = fixed_monthly(deployed, US_EAST_1, 10, 0)[line]
    slower = replace(deployed, silence_check_minutes=2 * deployed.silence_check_minutes)
    every_ten = fixed_monthly(slower, US_EAST_1, 10, 0)[
        f"silence watch (every {slower.silence_check_minutes} min)"
    ]

    # Then each run is a request, a Query and a few milliseconds: under a cent a month
    assert 0.001 < every_five < 0.01
    assert every_ten == pytest.approx(every_five / 2)
