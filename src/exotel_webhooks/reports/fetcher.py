"""A finished campaign's report: fetched once into S3, recorded on the campaign, reconciled."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from exotel_webhooks.batches import LoggedBatchProcessor, SqsHandler
from exotel_webhooks.ledger.counting import report_reconciled
from exotel_webhooks.ledger.keys import SUMMARY_SK, campaign_pk
from exotel_webhooks.ledger.table import CampaignTable
from exotel_webhooks.messages import ReportRequest, ReportRequestRecord
from exotel_webhooks.notifications import CampaignEvents
from exotel_webhooks.observability import (
    Metric,
    count,
    lambda_handler,
    log_keys,
    logger,
)
from exotel_webhooks.reports.reconciliation import ReconciliationFailed, csv_rows, reconcile
from exotel_webhooks.reports.safe_http import (
    HEAD_BYTES,
    FetchPolicy,
    NotModified,
    PermanentFetchFailure,
    ReportReader,
    Resolver,
    looks_like_csv,
    open_report,
)
from exotel_webhooks.reports.scrub import Scrubbed, remove_numbers
from exotel_webhooks.reports.upload import stream_to_s3
from exotel_webhooks.settings import NormalisationRules

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

CAMPAIGN_REPORT_STORED = "CampaignReportStored"


def reports_prefix(campaign_sid: str) -> str:
    """Where a campaign's reports are stored: one object per final status that named one."""
    return f"reports/{campaign_sid}/"


class ReportFetcher:
    def __init__(
        self,
        *,
        table: CampaignTable,
        s3: S3Client,
        bucket: str,
        policy: FetchPolicy,
        rules: NormalisationRules,
        events: CampaignEvents | None = None,
        retention: timedelta | None = None,
        resolve: Resolver | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.table, self.s3, self.bucket = table, s3, bucket
        self.policy, self.rules, self.events = policy, rules, events
        self.resolve = resolve
        self.retention = retention
        self.clock = clock

    def handle(self, request: ReportRequest) -> None:
        """Raises TransientFetchFailure for the queue to retry; records everything else."""
        pk = campaign_pk(request.campaign_sid)
        summary = self.table.get(pk, SUMMARY_SK, consistent=True) or {}
        report = summary.get("report") or {}
        if report.get("status") == "stored" and report.get("event_id") == request.event_id:
            logger.info(
                "report already stored for this callback", campaign_sid=request.campaign_sid
            )
            if not report_reconciled(summary):  # or only against the Campaign API's rows
                self._reconcile(request, report)
            return
        same_source = report.get("status") == "stored" and report.get(
            "source_url"
        ) == _without_query(request.report_url)
        try:
            stored = self.fetch_into_s3(request, report.get("etag") if same_source else None)
        except NotModified:
            logger.info("report unchanged since it was stored", campaign_sid=request.campaign_sid)
            return
        except PermanentFetchFailure as failure:
            self._record(request, {**_base(request), "status": "failed", "error": str(failure)})
            logger.warning(
                "report fetch failed",
                campaign_sid=request.campaign_sid,
                reason=str(failure),
                report_host=_host(request.report_url),
            )
            count(Metric.REPORTS_FAILED)
            return
        self._record(request, stored)
        self._reconcile(request, stored)

    def fetch_into_s3(self, request: ReportRequest, etag: str | None = None) -> dict[str, Any]:
        """Stream the report into S3; returns what to record. Raises NotModified, and
        Permanent- or TransientFetchFailure."""
        started = time.monotonic()
        opened = open_report(request.report_url, self.policy, self.resolve, if_none_match=etag)
        try:
            reader = ReportReader(opened, self.policy)
            problem = looks_like_csv(opened.content_type, reader.head(HEAD_BYTES))
            if problem:
                raise PermanentFetchFailure(problem)
            key = f"{reports_prefix(request.campaign_sid)}{request.event_id}.csv"
            stream_to_s3(self.s3, reader, self.bucket, key, "text/csv")
        finally:
            opened.response.release_conn()
        seconds = time.monotonic() - started
        logger.info(
            "report stored",
            campaign_sid=request.campaign_sid,
            bytes=reader.size,
            seconds=round(seconds, 3),
            report_host=opened.target.host,
        )
        count(Metric.REPORTS_STORED)
        count(Metric.REPORT_BYTES, reader.size, MetricUnit.Bytes)
        count(Metric.REPORT_FETCH_TIME, seconds, MetricUnit.Seconds)
        return {
            **_base(request),
            "status": "stored",
            "s3_uri": f"s3://{self.bucket}/{key}",
            "bytes": reader.size,
            "sha256": reader.sha256.hexdigest(),
            "content_type": opened.content_type or "text/csv",
            "fetched_at": self.clock().isoformat(),
            "fetch_seconds": round(seconds, 3),
            "source_host": opened.target.host,
            "source_url": _without_query(opened.target.url),
            "etag": opened.etag,
        }

    def _reconcile(self, request: ReportRequest, report: dict[str, Any]) -> None:
        bucket, key = report["s3_uri"].removeprefix("s3://").split("/", 1)
        body = self.s3.get_object(Bucket=bucket, Key=key)["Body"]
        try:
            expires_at = (
                int((self.clock() + self.retention).timestamp()) if self.retention else None
            )
            result = reconcile(
                csv_rows(body.iter_lines(keepends=True)),
                request.campaign_sid,
                self.table,
                self.rules,
                expires_at=expires_at,
            )
        except ReconciliationFailed as failure:
            self._record(request, {**report, "reconciliation_error": str(failure)})
            logger.warning(
                "report not reconciled", campaign_sid=request.campaign_sid, reason=str(failure)
            )
            return
        finally:
            body.close()
        scrubbed = Scrubbed(0)
        if result.erased:  # numbers erased before the report came: not kept in S3 either
            scrubbed = remove_numbers(self.s3, report["s3_uri"], result.erased, self.rules)
        if scrubbed.removed:  # (none: an erasure running meanwhile got there first)
            report = {**report, "bytes": scrubbed.bytes, "sha256": scrubbed.sha256}
            result = replace(result, report_rows=result.report_rows - scrubbed.removed)
            logger.info(
                "erased numbers removed from the report",
                campaign_sid=request.campaign_sid,
                rows=scrubbed.removed,
            )
        counts = result.counts()
        if self.events:  # before the summary says "reconciled": a failed publish is retried
            self.events.publish(
                CAMPAIGN_REPORT_STORED,
                {
                    "event_id": request.event_id,
                    "campaign_sid": request.campaign_sid,
                    "s3_uri": report["s3_uri"],
                    "bytes": int(report["bytes"]),  # a Decimal when read back
                    "sha256": report["sha256"],
                    "reconciliation": counts,
                },
            )
        self._record(request, {**report, "rows": result.report_rows}, result.as_dict())
        logger.info("report reconciled", campaign_sid=request.campaign_sid, reconciliation=counts)
        if counts["backfilled"]:
            count(Metric.NUMBERS_BACKFILLED, counts["backfilled"])

    def _record(
        self,
        request: ReportRequest,
        report: dict[str, Any],
        reconciliation: dict[str, int] | None = None,
    ) -> None:
        values: dict[str, Any] = {"campaign_sid": request.campaign_sid, "report": report}
        if reconciliation is not None:
            values["reconciliation"] = reconciliation
        self.table.set(campaign_pk(request.campaign_sid), SUMMARY_SK, values)


def _base(request: ReportRequest) -> dict[str, Any]:
    return {"event_id": request.event_id, "source_url": _without_query(request.report_url)}


def _without_query(url: str) -> str:
    """A pre-signed URL's query is a credential: never stored or logged."""
    return url.split("?", 1)[0].split("#", 1)[0]


def _host(url: str) -> str | None:
    try:
        return urlsplit(url).hostname
    except ValueError:  # not even a URL: the failure's reason says so
        return None


def retry_delay_seconds(receives: int) -> int:
    """1, 2, 4, 8 minutes, then 15: the backoff of a report fetch that may pass later."""
    return int(min(60 * 2 ** (receives - 1), 900))


def report_request_handler(
    fetcher: ReportFetcher, sqs: SQSClient, queue_url: str | None
) -> SqsHandler:
    """The report fetcher Lambda: one report request at a time from the report queue.

    A failure that may pass (timeout, 5xx, 429, AWS trouble) stays on the queue, its next
    delivery delayed by `retry_delay_seconds` (the message's visibility), then the DLQ;
    permanent failures are recorded on the campaign by `ReportFetcher.handle`."""
    processor = LoggedBatchProcessor(ReportRequestRecord)

    def retry_later(record: ReportRequestRecord) -> None:
        receives = int(record.attributes.ApproximateReceiveCount)
        delay = retry_delay_seconds(receives)
        try:
            if queue_url:
                sqs.change_message_visibility(
                    QueueUrl=queue_url, ReceiptHandle=record.receiptHandle, VisibilityTimeout=delay
                )
        except (BotoCoreError, ClientError):  # the queue's own visibility timeout applies instead
            logger.exception("could not delay the retry")
        logger.warning(
            "report fetch will be retried", retry_in_seconds=delay, receive_count=receives
        )
        count(Metric.REPORT_FETCH_RETRIES)

    def process_record(record: ReportRequestRecord) -> None:  # Powertools passes it by this name
        log_keys(event_id=record.body.event_id, campaign_sid=record.body.campaign_sid)
        try:
            fetcher.handle(record.body)
        except Exception:
            retry_later(record)
            raise

    @lambda_handler
    def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
        return process_partial_response(
            event=event, record_handler=process_record, processor=processor, context=context
        )

    return handler
