"""The report fetcher: SSRF refusals, streaming, retries, permanent failures, reconciliation."""

from __future__ import annotations

import gzip
import json
import socket
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from exotel_webhooks.ledger.table import CampaignTable
from exotel_webhooks.messages import ReportRequest
from exotel_webhooks.reports.fetcher import ReportFetcher
from exotel_webhooks.reports.reconciliation import csv_rows, reconcile
from exotel_webhooks.reports.safe_http import (
    FetchPolicy,
    PermanentFetchFailure,
    ReportReader,
    TransientFetchFailure,
    host_allowed,
    open_report,
    resolve_target,
)
from exotel_webhooks.settings import NormalisationRules
from exotel_webhooks.vocabulary import CallbackType
from localaws.emulation import REGION, Deployment, deploy, emulated_account_environment
from localaws.net import free_port
from localaws.sqs_events import sqs_event
from tests.stack.test_processors import Processors, outcome
from tests.support.campaigns import message
from tests.support.events import http_get
from tests.support.pipeline import LedgerStream
from tests.support.report_server import ReportServer, Route
from tests.support.stack import AwsCalls, LoadFunction

DEFAULT_HOSTS = ("s3.amazonaws.com", "*.s3.amazonaws.com", "s3.*.amazonaws.com", "*.exotel.com")
PUBLIC = "52.95.110.1"


def resolver(*addresses: str) -> Any:
    calls: list[str] = []

    def resolve(host: str, port: int, **_: Any) -> list[tuple[Any, ...]]:
        calls.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


# ----------------------------------------------------------------------------- SSRF
@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",  # loopback
        "10.1.2.3",  # private
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata (link-local)
        "169.254.10.10",  # link-local
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",  # noqa: S104 - unspecified, the point of the test
        "224.0.0.1",  # multicast
        "::1",  # IPv6 loopback
        "fd00:ec2::254",  # unique-local (AWS's IPv6 metadata endpoint)
        "fe80::1",  # IPv6 link-local
        "::ffff:10.0.0.1",  # IPv4-mapped private
        "2002:a00:1::",  # 6to4 around 10.0.0.1
    ],
)
def test_every_non_public_address_class_is_refused(address: str) -> None:
    policy = FetchPolicy(DEFAULT_HOSTS, max_bytes=1024)
    with pytest.raises(PermanentFetchFailure, match="refused"):
        resolve_target("https://s3.amazonaws.com/r.csv", policy, resolver(address))


def test_one_private_address_among_public_ones_is_refused() -> None:
    policy = FetchPolicy(DEFAULT_HOSTS, max_bytes=1024)
    with pytest.raises(PermanentFetchFailure, match="refused: private"):
        resolve_target("https://s3.amazonaws.com/r.csv", policy, resolver(PUBLIC, "10.0.0.8"))


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://s3.amazonaws.com/r.csv", "scheme http"),
        ("ftp://s3.amazonaws.com/r.csv", "scheme ftp"),
        ("https://evil.example.com/r.csv", "not allow-listed"),
        ("https://s3.amazonaws.com.evil.com/r.csv", "not allow-listed"),
        ("https://169.254.169.254/latest/meta-data/", "not allow-listed"),
        ("https://user:pw@s3.amazonaws.com/r.csv", "credentials"),
        ("https:///r.csv", "no host"),
    ],
)
def test_urls_outside_the_policy_are_refused(url: str, reason: str) -> None:
    policy = FetchPolicy(DEFAULT_HOSTS, max_bytes=1024)
    with pytest.raises(PermanentFetchFailure, match=reason):
        resolve_target(url, policy, resolver(PUBLIC))


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("s3.amazonaws.com", True),
        ("exotel-reports.s3.amazonaws.com", True),
        ("s3.ap-south-1.amazonaws.com", True),
        ("reports.exotel.com", True),
        ("exotel.com.attacker.net", False),
        ("notexotel.com", False),
        ("amazonaws.com", False),
    ],
)
def test_allow_list_patterns(host: str, allowed: bool) -> None:
    assert host_allowed(host, DEFAULT_HOSTS) is allowed


# ----------------------------------------------------------------------------- over loopback
LOCAL = FetchPolicy(
    ("127.0.0.1", "reports.example.com", "10.0.0.5"), max_bytes=10**9, allow_loopback=True
)


@pytest.mark.enable_socket
def test_the_connection_goes_to_the_address_that_was_checked(report_server: ReportServer) -> None:
    # Given a host whose DNS answer would change after the check (rebinding)
    report_server.routes["/r.csv"] = Route(body=b"a,b\n1,2\n")
    answers = iter(["127.0.0.1", "10.0.0.5"])
    lookups: list[str] = []

    def rebinding(host: str, port: int, **_: Any) -> list[tuple[Any, ...]]:
        lookups.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    # When it is fetched
    opened = open_report(report_server.url("/r.csv", "reports.example.com"), LOCAL, rebinding)

    # Then it was resolved once, and the request reached the checked address with its name
    assert opened.response.read() == b"a,b\n1,2\n"
    assert lookups == ["reports.example.com"]
    assert report_server.hosts == [f"reports.example.com:{report_server.port}"]


@pytest.mark.enable_socket
def test_a_redirect_to_a_private_address_is_refused(report_server: ReportServer) -> None:
    report_server.routes["/r.csv"] = Route(status=302, location="http://10.0.0.5/internal")
    with pytest.raises(PermanentFetchFailure, match=r"refused: private address 10\.0\.0\.5"):
        open_report(report_server.url("/r.csv"), LOCAL)


@pytest.mark.enable_socket
def test_redirects_are_followed_within_the_allow_list_and_a_limit(
    report_server: ReportServer,
) -> None:
    report_server.routes["/a"] = Route(status=301, location="/b")
    report_server.routes["/b"] = Route(status=307, location=report_server.url("/r.csv"))
    report_server.routes["/r.csv"] = Route(body=b"x,y\n")
    report_server.routes["/loop"] = Route(status=302, location="/loop")

    assert open_report(report_server.url("/a"), LOCAL).response.read() == b"x,y\n"
    with pytest.raises(PermanentFetchFailure, match="more than 3 redirects"):
        open_report(report_server.url("/loop"), LOCAL)


@pytest.mark.enable_socket
def test_a_stalled_body_is_a_transient_failure(report_server: ReportServer) -> None:
    report_server.routes["/slow.csv"] = Route(size=10_000, stall_seconds=2)
    policy = FetchPolicy(LOCAL.allowed_hosts, 10**9, allow_loopback=True, read_timeout=0.3)
    opened = open_report(report_server.url("/slow.csv"), policy)
    reader = ReportReader(opened, policy)
    with pytest.raises(TransientFetchFailure, match="ReadTimeoutError"):
        reader.read(4096)


@pytest.mark.enable_socket
def test_a_slow_drip_is_cut_off_by_the_overall_time_limit(report_server: ReportServer) -> None:
    # Given a body that keeps arriving, but too slowly to finish in time
    report_server.routes["/drip.csv"] = Route(size=10 * 2**20)
    policy = FetchPolicy(LOCAL.allowed_hosts, 10**9, allow_loopback=True, total_seconds=0.2)
    reader = ReportReader(open_report(report_server.url("/drip.csv"), policy), policy)

    # When it is read past the limit, Then the fetch gives up (and will be retried)
    reader.read(1024)
    time.sleep(0.3)
    with pytest.raises(TransientFetchFailure, match="too slow"):
        reader.read(1024)


def read_to_the_end(reader: ReportReader) -> None:
    """As the upload does: parts of 8 MiB until the body ends."""
    while reader.read(8 * 2**20):
        pass


@pytest.mark.enable_socket
def test_a_drip_inside_one_read_is_cut_off_by_the_overall_time_limit(
    report_server: ReportServer,
) -> None:
    # Given a server that sends a byte every 50 ms (each arrives well within the read timeout)
    report_server.routes["/drip.csv"] = Route(body=b"number,status\n" * 20, drip_seconds=0.05)
    policy = FetchPolicy(LOCAL.allowed_hosts, 10**9, allow_loopback=True, total_seconds=0.5)
    reader = ReportReader(open_report(report_server.url("/drip.csv"), policy), policy)

    # When one read asks for more than the whole body, Then the time limit ends it (retried
    # later), rather than the read lasting as long as the server keeps dripping
    with pytest.raises(TransientFetchFailure, match="too slow"):
        read_to_the_end(reader)
    assert reader.size < 280


@pytest.mark.enable_socket
def test_an_encoded_report_is_refused_and_identity_is_asked_for(
    report_server: ReportServer,
) -> None:
    # Given a server that answers gzip although the fetcher asks for identity
    compressed = gzip.compress(b"number,status\n" + b"+919800000001,completed\n" * 50_000)
    report_server.routes["/bomb.csv"] = Route(body=compressed, content_encoding="gzip")

    # When it is fetched, Then it is refused for good, and nothing was inflated
    with pytest.raises(PermanentFetchFailure, match="gzip-encoded"):
        open_report(report_server.url("/bomb.csv"), LOCAL)
    assert report_server.accept_encodings == ["identity"]


@pytest.mark.parametrize(
    "url", ["https://[reports.exotel.com/r.csv", "https://s3.amazonaws.com:99999/r.csv"]
)
def test_a_url_that_cannot_be_parsed_is_a_permanent_failure(url: str) -> None:
    with pytest.raises(PermanentFetchFailure, match="refused"):
        open_report(url, FetchPolicy(("*.exotel.com", "s3.amazonaws.com"), 10**9))


# ----------------------------------------------------------------------------- the Lambda
class Fetcher:
    def __init__(
        self, load_function: LoadFunction, server: ReportServer, stack: Deployment
    ) -> None:
        self.handler = load_function(
            "ReportFetcherFunction",
            REPORT_URL_ALLOW_LOOPBACK="true",
            REPORT_URL_ALLOWED_HOSTS="127.0.0.1",
        )
        self.server = server
        self.read_api = load_function("ReadApiFunction")
        self.stream = LedgerStream(stack, load_function("LedgerStreamFunction"))

    def fetch(self, path: str, event_id: str = "evt-1", receives: int = 1) -> dict[str, Any]:
        request = {
            "campaign_sid": "camp_1",
            "report_url": self.server.url(path),
            "event_id": event_id,
        }
        record = {
            "MessageId": f"{event_id}-{receives}",
            "ReceiptHandle": "handle",
            "Body": json.dumps(request),
            "Attributes": {"ApproximateReceiveCount": str(receives)},
        }
        return self.handler(sqs_event("arn:aws:sqs:ap-south-1:123456789012:report", [record]))

    def campaign(self) -> dict[str, Any]:
        self.stream.settle()  # the counts follow the stored outcomes within a window
        response = self.read_api(http_get("/campaigns/camp_1"))
        assert response["statusCode"] == 200, response["body"]
        body: dict[str, Any] = json.loads(response["body"])
        return body


@pytest.fixture
def fetcher(load_function: LoadFunction, report_server: ReportServer, stack: Deployment) -> Fetcher:
    return Fetcher(load_function, report_server, stack)


@pytest.mark.enable_socket
def test_a_report_is_stored_with_its_metadata_and_never_its_query(
    stack: Deployment, fetcher: Fetcher, report_server: ReportServer
) -> None:
    body = b"number,status\n09876543210,completed\n"
    report_server.routes["/r.csv"] = Route(body=body)

    assert fetcher.fetch("/r.csv?X-Amz-Signature=secret") == {"batchItemFailures": []}

    report = fetcher.campaign()["report"]
    assert report["status"] == "stored"
    assert report["s3_uri"] == f"s3://{stack.physical_id('ReportBucket')}/reports/camp_1/evt-1.csv"
    assert report["bytes"] == len(body)
    assert report["rows"] == 1
    assert report["source_host"] == "127.0.0.1"
    assert len(report["sha256"]) == 64
    assert "Signature" not in json.dumps(report)
    stored = boto3.client("s3", region_name=REGION).get_object(
        Bucket=stack.physical_id("ReportBucket"), Key="reports/camp_1/evt-1.csv"
    )
    assert stored["Body"].read() == body


@pytest.mark.enable_socket
def test_transient_failures_back_off_then_succeed(
    fetcher: Fetcher, report_server: ReportServer, aws_calls: AwsCalls
) -> None:
    report_server.routes["/r.csv"] = Route(body=b"number,status\n1,busy\n", fail_first=2)

    failures = [fetcher.fetch("/r.csv", receives=n)["batchItemFailures"] for n in (1, 2, 3)]

    assert [len(f) for f in failures] == [1, 1, 0]
    backoff = [call["VisibilityTimeout"] for call in aws_calls.of("ChangeMessageVisibility")]
    assert backoff == [60, 120]
    assert fetcher.campaign()["report"]["status"] == "stored"


@pytest.mark.enable_socket
@pytest.mark.parametrize(
    ("route", "reason"),
    [
        (Route(status=403, body=b"<Error>Request has expired</Error>"), "HTTP 403"),
        (Route(body=b"<html><body>Login</body></html>", content_type="text/html"), "not CSV"),
        (Route(body=b"<html>report</html>", content_type="application/octet-stream"), "not CSV"),
        (Route(body=b"", content_type="text/csv"), "the report is empty"),
        (Route(size=5000), "over the 4096 cap"),
        (Route(size=5000, send_length=False), "exceeds the 4096 byte cap"),
    ],
)
def test_permanent_failures_are_recorded_without_retry(
    load_function: LoadFunction,
    report_server: ReportServer,
    stack: Deployment,
    route: Route,
    reason: str,
) -> None:
    fetcher = Fetcher(load_function, report_server, stack)
    fetcher.handler = load_function(
        "ReportFetcherFunction",
        REPORT_URL_ALLOW_LOOPBACK="true",
        REPORT_URL_ALLOWED_HOSTS="127.0.0.1",
        REPORT_MAX_BYTES="4096",
    )
    report_server.routes["/r.csv"] = route

    assert fetcher.fetch("/r.csv") == {"batchItemFailures": []}

    report = fetcher.campaign()["report"]
    assert report["status"] == "failed"
    assert reason in report["error"]


@pytest.mark.enable_socket
def test_a_refused_url_is_recorded_as_failed(fetcher: Fetcher) -> None:
    request = {"campaign_sid": "camp_1", "report_url": "https://10.0.0.1/r.csv", "event_id": "e"}
    record = {"MessageId": "m", "ReceiptHandle": "h", "Body": json.dumps(request)}

    assert fetcher.handler(sqs_event("arn:q", [record])) == {"batchItemFailures": []}
    assert "not allow-listed" in fetcher.campaign()["report"]["error"]


@pytest.mark.enable_socket
def test_the_same_report_is_not_fetched_twice(
    fetcher: Fetcher, report_server: ReportServer
) -> None:
    report_server.routes["/r.csv"] = Route(body=b"number,status\n1,busy\n", etag='"v1"')

    fetcher.fetch("/r.csv", event_id="evt-1")
    fetcher.fetch("/r.csv", event_id="evt-1")  # the same request, redelivered
    fetcher.fetch("/r.csv", event_id="evt-2")  # Exotel sent the final status again

    assert report_server.downloads["/r.csv"] == 1
    assert report_server.hits["/r.csv"] == 2  # the second callback asked If-None-Match


# ----------------------------------------------------------------------------- reconciliation
@pytest.mark.enable_socket
def test_reconciliation_matches_backfills_and_counts_disagreements(
    fetcher: Fetcher, report_server: ReportServer, load_function: LoadFunction, stack: Deployment
) -> None:
    # Given outcomes from callbacks for two numbers
    processors = Processors(load_function, stack)
    processors.process(outcome("completed", 30))  # +919876543210
    processors.process(
        message(
            CallbackType.CALL_SCHEDULE,
            {"campaign_sid": "camp_1", "to": "09812345678", "status": "failed"},
        )
    )
    # And a report (its own column names, semicolons) that agrees on one, disagrees on the
    # other, and has a number no callback reported, and a row without a number
    report_server.routes["/r.csv"] = Route(
        body=(
            b"Sr;Contact Number;Call Status;Attempts\n"
            b"1;+91 98765 43210;Completed;1\n"
            b"2;9812345678;Completed;3\n"
            b"3;09811111111;No Answer;3\n"
            b"4;;Failed;0\n"
        )
    )

    # When the report is fetched (and fetched again: reconciliation is idempotent)
    fetcher.fetch("/r.csv")
    first = fetcher.campaign()
    fetcher.fetch("/r.csv")

    # Then the counts are the report's, and the backfilled number counts once
    assert first["reconciliation"] == {
        "source": "report",
        "report_rows": 4,
        "matched": 1,
        "backfilled": 1,
        "mismatched": 1,
        "unparseable": 1,
    }
    assert fetcher.campaign() == first
    assert first["numbers"] == {
        "total": 3,
        "by_status": {"completed": 1, "failed": 1, "no-answer": 1},
    }
    status, number = processors.get("/campaigns/camp_1/numbers/09811111111")
    assert (status, number["source"], number["status"]) == (200, "report", "no-answer")


def test_a_later_callback_overrides_a_backfilled_number(
    stack: Deployment, load_function: LoadFunction
) -> None:
    # Given a number known only from the report
    processors = Processors(load_function, stack)
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    table = CampaignTable(dynamodb, stack.physical_id("CampaignTable"))
    rows = csv_rows([b"number,status\n", b"09876543210,busy\n"])
    reconcile(rows, "camp_1", table, NormalisationRules())

    # When its call schedule callback arrives late
    processors.process(outcome("completed", 30))

    # Then the callback's outcome replaces the backfill, and the number still counts once
    _, number = processors.get("/campaigns/camp_1/numbers/09876543210")
    assert (number["status"], number["source"]) == ("completed", "callback")
    assert processors.campaign()["numbers"] == {"total": 1, "by_status": {"completed": 1}}


# ----------------------------------------------------------------------------- constant memory
# moto's server, with the project's patches (the stack's Firehose, Glue and Athena objects)
PATCHED_MOTO_SERVER = (
    "import sys; from localaws import moto_patches; moto_patches.apply(); "
    "from moto.server import main; main(['-p', sys.argv[1]])"
)


@pytest.fixture
def moto_server() -> Iterator[str]:
    """moto in its own process, so this process's memory is the fetcher's alone."""
    port = free_port()
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", PATCHED_MOTO_SERVER, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    yield endpoint
    process.terminate()
    process.wait(10)


@pytest.mark.enable_socket
def test_a_report_streams_into_s3_in_memory_that_does_not_grow_with_it(
    moto_server: str, report_server: ReportServer
) -> None:
    # Given reports of 32 and 160 MiB, and an account emulated in another process (so this
    # process's allocations are the fetcher's alone)
    small, large = 32 * 2**20, 160 * 2**20
    report_server.routes["/small.csv"] = Route(size=small)
    report_server.routes["/large.csv"] = Route(size=large)
    with emulated_account_environment():
        deployment = deploy(endpoint_url=moto_server)
        s3 = boto3.client("s3", region_name=REGION, endpoint_url=moto_server)
        dynamodb = boto3.client("dynamodb", region_name=REGION, endpoint_url=moto_server)
        fetcher = ReportFetcher(
            table=CampaignTable(dynamodb, deployment.physical_id("CampaignTable")),
            s3=s3,
            bucket=deployment.physical_id("ReportBucket"),
            policy=LOCAL,
            rules=NormalisationRules(),
        )

        # When each is fetched into S3, tracing every allocation this process makes
        peaks = {}
        for path in ("/small.csv", "/large.csv"):
            tracemalloc.start()
            url = report_server.url(path)
            stored = fetcher.fetch_into_s3(
                ReportRequest(campaign_sid="c", report_url=url, event_id=path[1:])
            )
            peaks[path] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            assert stored["bytes"] == report_server.routes[path].size

    # Then five times the report costs (next to) no more memory: it was never held
    growth = peaks["/large.csv"] - peaks["/small.csv"]
    assert growth < 8 * 2**20, f"{growth / 2**20:.1f} MiB more for 128 MiB more report"
