"""Recordings kept where the team can reach them (docs/architecture.md, "Recordings"): each
attempt whose call details say it was recorded has its recording copied into the report bucket
under `recordings/<campaign>/<call>`. Exotel's links expire (5 to 60 minutes) and need the
account's key and token, so the link is asked of the Call details API afresh each time, and the
recording streamed from it in constant memory, SSRF-safe as a report is (the key and token go to
the link's own host only, never where it redirects). The attempt then names the object; an
attempt erased meanwhile has its copy deleted again."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from exotel_webhooks.aws import aws_unavailable
from exotel_webhooks.ledger.details import DueAttempt
from exotel_webhooks.ledger.keys import subscriber_in
from exotel_webhooks.ledger.table import CampaignTable, DetailsWrite
from exotel_webhooks.observability import LambdaHandler, lambda_handler, logger
from exotel_webhooks.reports.safe_http import (
    FetchPolicy,
    PermanentFetchFailure,
    ReportReader,
    TransientFetchFailure,
    host_allowed,
    open_report,
)
from exotel_webhooks.reports.upload import stream_to_s3
from exotel_webhooks.sweep.campaign_api import (
    ApiCredentials,
    CampaignApi,
    CampaignApiRefused,
    CampaignApiUnavailable,
)

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_s3 import S3Client

RECORDINGS_PREFIX = "recordings/"
DEFAULT_CONTENT_TYPE = "audio/mpeg"
# A recording's download at most: a batch of 5 fits the function's 15 minutes with the API's turn
RECORDING_SECONDS = 150
NOT_THERE_YET = 404  # Exotel links a recording before its host has it: asked for again


def recording_key(campaign_sid: str, number_hash: str, call_sid: str) -> str:
    """`recordings/<campaign>/<the number's keyed hash>/<call>`: an erasure finds a number's
    recordings by its hash even once their attempts are gone."""
    parts = (campaign_sid, number_hash, call_sid)
    return RECORDINGS_PREFIX + "/".join(quote(part, safe="") for part in parts)


@dataclass
class KeepReport:
    kept: list[DueAttempt] = field(default_factory=list)
    already: list[DueAttempt] = field(default_factory=list)  # kept before
    gone: list[DueAttempt] = field(default_factory=list)  # erased or expired since
    refused: list[DueAttempt] = field(default_factory=list)  # a link that can never be fetched
    unavailable: list[DueAttempt] = field(default_factory=list)  # no link (yet)

    @property
    def done(self) -> list[DueAttempt]:
        return self.kept + self.already + self.gone + self.refused


class RecordingKeeper:
    def __init__(
        self,
        table: CampaignTable,
        api: CampaignApi,
        credentials: ApiCredentials,
        *,
        s3: S3Client,
        bucket: str,
        policy: FetchPolicy,
    ) -> None:
        self.table, self.api, self.credentials = table, api, credentials
        self.s3, self.bucket, self.policy = s3, bucket, policy

    def keep(self, due: Sequence[DueAttempt]) -> KeepReport:
        """Copy these attempts' recordings. Raises CampaignApiRefused or CampaignApiUnavailable
        (the API): what was kept before stays."""
        report = KeepReport()
        answer = self.api.call_details(list({a.call_sid: a.created for a in due}.items()))
        for attempt in due:
            details = answer.settled.get(attempt.call_sid)
            link = details.recording_url if details else None
            if not link:
                report.unavailable.append(attempt)
                continue
            subscriber = subscriber_in(attempt.pk, attempt.campaign_sid)
            key = recording_key(
                attempt.campaign_sid, self.table.subscriber_hash(subscriber), attempt.call_sid
            )
            try:
                size, version = self._copy(link, key)
            except (TransientFetchFailure, PermanentFetchFailure) as error:
                if isinstance(error, PermanentFetchFailure) and error.status != NOT_THERE_YET:
                    logger.warning(
                        "recording refused",
                        campaign_sid=attempt.campaign_sid,
                        call_sid=attempt.call_sid,
                        reason=str(error),
                    )
                    report.refused.append(attempt)
                    continue
                # asked again, with a fresh link, after the visibility timeout
                logger.warning(
                    "recording not fetched yet",
                    campaign_sid=attempt.campaign_sid,
                    call_sid=attempt.call_sid,
                    reason=str(error),
                )
                report.unavailable.append(attempt)
                continue
            except Exception as error:  # this attempt's only: the others go on
                if aws_unavailable(error):
                    raise
                logger.exception(
                    "recording not kept",
                    campaign_sid=attempt.campaign_sid,
                    call_sid=attempt.call_sid,
                    reason=type(error).__name__,
                )
                report.unavailable.append(attempt)
                continue
            written = self.table.record_recording(
                attempt.pk, attempt.sk, {"key": key, "bytes": size}
            )
            if written is DetailsWrite.GONE:  # erased while it was copied: no copy either
                if version:  # the version itself: a plain delete only hides it
                    self.s3.delete_object(Bucket=self.bucket, Key=key, VersionId=version)
                else:
                    self.s3.delete_object(Bucket=self.bucket, Key=key)
            {
                DetailsWrite.WRITTEN: report.kept,
                DetailsWrite.UNCHANGED: report.already,
                DetailsWrite.GONE: report.gone,
            }[written].append(attempt)
        return report

    def _copy(self, link: str, key: str) -> tuple[int, str | None]:
        """The recording streamed into `key`: its size and the version stored."""
        opened = open_report(link, self.policy, authorization=self._authorization(link))
        reader = ReportReader(opened, self.policy)
        if not reader.head(1):
            opened.response.release_conn()
            raise PermanentFetchFailure("the recording is empty")
        content_type = opened.content_type or DEFAULT_CONTENT_TYPE
        version = stream_to_s3(self.s3, reader, self.bucket, key, content_type)
        return reader.size, version

    def _authorization(self, link: str) -> str | None:
        """The account's key and token, for a link on Exotel's own hosts only (a pre-signed
        store's link carries its own signature, and must never see them)."""
        if _is_exotels(link, self.policy.allow_loopback):
            return self.credentials.authorization
        return None


def recording_handler(keeper: RecordingKeeper) -> LambdaHandler[dict[str, Any]]:
    """The recording function, fed by the recording queue: the records not done (no link yet,
    a host unavailable, the API refusing) stay on it, asked again after its visibility timeout,
    then wait in its dead-letter queue."""

    @lambda_handler
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        failures: list[str] = []
        due: dict[str, DueAttempt] = {}
        for record in event.get("Records") or []:
            try:
                attempt = DueAttempt.of_message(json.loads(record["body"]))
                _ = attempt.created  # a date the API's range cannot be made of is unreadable
                due[record["messageId"]] = attempt
            except (KeyError, TypeError, ValueError):
                logger.error("recording request unreadable", message_id=record.get("messageId"))
                failures.append(str(record.get("messageId")))
        try:
            report = keeper.keep(list(due.values())) if due else KeepReport()
        except (CampaignApiRefused, CampaignApiUnavailable) as error:
            logger.warning("recordings not kept", reason=str(error), attempts=len(due))
            return {"batchItemFailures": [{"itemIdentifier": i} for i in [*failures, *due]]}
        done = set(report.done)
        failures += [message for message, attempt in due.items() if attempt not in done]
        logger.info(
            "recordings kept",
            kept=len(report.kept),
            already=len(report.already),
            unavailable=len(report.unavailable),
            refused=len(report.refused),
            gone=len(report.gone),
        )
        return {"batchItemFailures": [{"itemIdentifier": message} for message in failures]}

    return handler


EXOTEL_HOSTS = ("*.exotel.com", "*.exotel.in")  # those the account's key and token may go to
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")


def _is_exotels(link: str, allow_loopback: bool) -> bool:
    host = (urlsplit(link).hostname or "").lower()
    return host_allowed(host, EXOTEL_HOSTS) or (allow_loopback and host in LOOPBACK_HOSTS)
