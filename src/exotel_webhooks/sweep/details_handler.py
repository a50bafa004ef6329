"""The call details function (docs/architecture.md, "Call details"): fed by the call details
queue, it asks Exotel's Call details API about up to 100 attempts at once and writes what it
settled; the rest (not priced yet, or the API unavailable) go back on the queue, asked again
after its visibility timeout, and after its maxReceiveCount wait in its dead-letter queue
(`make enrich`, ops/enrich.py, asks about a campaign's again)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from exotel_webhooks.ledger.details import DueAttempt
from exotel_webhooks.observability import LambdaHandler, Metric, count, lambda_handler, logger
from exotel_webhooks.sweep.campaign_api import CampaignApiRefused, CampaignApiUnavailable
from exotel_webhooks.sweep.enrichment import CallDetailsEnricher

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


def call_details_handler(enricher: CallDetailsEnricher) -> LambdaHandler[dict[str, Any]]:
    @lambda_handler
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        if isinstance(event, dict) and event.get("campaign_sid"):
            sid = str(event["campaign_sid"])
            report = enricher.enrich_campaign(sid)
            count(Metric.CALL_DETAILS_WRITTEN, len(report.written))
            logger.info(
                "campaign's call details read", campaign_sid=sid, summary=report.summary(sid)
            )
            return {"summary": report.summary(sid)}
        return _from_queue(enricher, event.get("Records") or [])

    return handler


def _from_queue(enricher: CallDetailsEnricher, records: list[dict[str, Any]]) -> dict[str, Any]:
    """Partial batch answer: the records not done stay on the queue."""
    failures: list[str] = []
    due: dict[str, DueAttempt] = {}  # message id -> its attempt
    for record in records:
        try:
            due[record["messageId"]] = DueAttempt.of_message(json.loads(record["body"]))
        except (KeyError, TypeError, ValueError):
            logger.error("call details request unreadable", message_id=record.get("messageId"))
            failures.append(str(record.get("messageId")))
    attempts = list(due.values())
    try:
        report = enricher.enrich(attempts) if attempts else None
    except (CampaignApiRefused, CampaignApiUnavailable) as error:
        logger.warning("call details not read", reason=str(error), attempts=len(attempts))
        count(Metric.CALL_DETAILS_FAILED)
        return {"batchItemFailures": [{"itemIdentifier": id_} for id_ in [*failures, *due]]}
    done = set(report.done) if report else set()
    failures += [message for message, attempt in due.items() if attempt not in done]
    if report:
        count(Metric.CALL_DETAILS_WRITTEN, len(report.written))
        logger.info(
            "call details read",
            written=len(report.written),
            unchanged=len(report.unchanged),
            unsettled=len(report.unsettled),
            refused=len(report.refused),
            gone=len(report.gone),
        )
    return {"batchItemFailures": [{"itemIdentifier": message} for message in failures]}
