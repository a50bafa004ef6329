"""Recordings kept where the team can reach them (docs/architecture.md, "Recordings"): each
attempt whose call details say it was recorded has its recording copied into the report bucket
under `recordings/<campaign>/<call>`. Exotel's links expire (5 to 60 minutes) and need the
account's key and token, so the link is asked of the Call details API afresh each time, and the
recording streamed from it in constant memory, SSRF-safe as a report is (the key and token go to
the link's own host only, never where it redirects). The attempt then names the object; an
attempt erased meanwhile has its copy deleted again."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote

from exotel_webhooks.ledger.details import DueAttempt
from exotel_webhooks.ledger.table import CampaignTable, DetailsWrite
from exotel_webhooks.observability import logger
from exotel_webhooks.reports.safe_http import (
    FetchPolicy,
    PermanentFetchFailure,
    ReportReader,
    open_report,
)
from exotel_webhooks.reports.upload import stream_to_s3
from exotel_webhooks.sweep.campaign_api import ApiCredentials, CampaignApi

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

RECORDINGS_PREFIX = "recordings/"
DEFAULT_CONTENT_TYPE = "audio/mpeg"


def recording_key(campaign_sid: str, call_sid: str) -> str:
    return f"{RECORDINGS_PREFIX}{quote(campaign_sid, safe='')}/{quote(call_sid, safe='')}"


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
        (the API), TransientFetchFailure (a recording's host): what was kept before stays."""
        report = KeepReport()
        answer = self.api.call_details(list({a.call_sid: a.created for a in due}.items()))
        for attempt in due:
            details = answer.settled.get(attempt.call_sid)
            link = details.recording_url if details else None
            if not link:
                report.unavailable.append(attempt)
                continue
            key = recording_key(attempt.campaign_sid, attempt.call_sid)
            try:
                size = self._copy(link, key)
            except PermanentFetchFailure as error:
                logger.warning(
                    "recording refused",
                    campaign_sid=attempt.campaign_sid,
                    call_sid=attempt.call_sid,
                    reason=str(error),
                )
                report.refused.append(attempt)
                continue
            written = self.table.record_recording(
                attempt.pk, attempt.sk, {"key": key, "bytes": size}
            )
            if written is DetailsWrite.GONE:  # erased while it was copied: no copy either
                self.s3.delete_object(Bucket=self.bucket, Key=key)
            {
                DetailsWrite.WRITTEN: report.kept,
                DetailsWrite.UNCHANGED: report.already,
                DetailsWrite.GONE: report.gone,
            }[written].append(attempt)
        return report

    def _copy(self, link: str, key: str) -> int:
        opened = open_report(link, self.policy, authorization=self.credentials.authorization)
        reader = ReportReader(opened, self.policy)
        content_type = opened.content_type or DEFAULT_CONTENT_TYPE
        stream_to_s3(self.s3, reader, self.bucket, key, content_type)
        return reader.size
