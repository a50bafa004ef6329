"""The read API's routes (openapi.yaml) over API Gateway HTTP API events: IAM-authorised in AWS."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from exotel_webhooks.aws import aws_unavailable
from exotel_webhooks.ledger.table import RaceLost
from exotel_webhooks.observability import LambdaHandler, lambda_handler, logger
from exotel_webhooks.views.campaigns import (
    BadRequest,
    CampaignNotFound,
    CampaignViews,
    TooLargeForTheApi,
)
from exotel_webhooks.views.pages import URL_SECONDS, SummaryPages

# What a client is told to wait before asking again when AWS is throttled or out of reach.
RETRY_AFTER_SECONDS = 5
# The most attempts a redial request reads: about 400 DynamoDB requests, well inside the
# function's 10 s; `make redial` has no limit.
MAX_REDIAL_ATTEMPTS = 20_000


def _error(status: int, error: Exception) -> Response[str]:
    return Response(status, content_types.APPLICATION_JSON, json.dumps({"message": str(error)}))


def _unavailable(error: Exception) -> Response[str]:
    """AWS throttled or unreachable (or a read it kept unprocessed: RaceLost): 503 and when to
    try again. Any other AWS error is a fault of the function: it is raised, so Lambda counts it
    and the alarm sees it."""
    if not (aws_unavailable(error) or isinstance(error, RaceLost)):
        raise error
    logger.warning("campaign table unavailable", error=type(error).__name__)
    message = "the campaign ledger cannot be reached just now; try again shortly"
    return Response(
        503,
        content_types.APPLICATION_JSON,
        json.dumps({"message": message}),
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def read_api_handler(
    views: CampaignViews, pages: SummaryPages | None = None
) -> LambdaHandler[dict[str, Any]]:
    """The read API Lambda: each route is one CampaignViews answer; typed errors become 404/400,
    AWS throttled or out of reach 503."""
    app = APIGatewayHttpResolver()

    @app.get("/campaigns/<campaign_sid>")
    def get_campaign(campaign_sid: str) -> dict[str, Any]:
        return views.campaign(unquote(campaign_sid))

    @app.get("/campaigns/<campaign_sid>/numbers/<number>")
    def get_campaign_number(campaign_sid: str, number: str) -> dict[str, Any]:
        return views.number(unquote(campaign_sid), unquote(number))

    @app.get("/campaigns/<campaign_sid>/calls")
    def list_campaign_calls(campaign_sid: str) -> dict[str, Any]:
        query = app.current_event.query_string_parameters or {}
        return views.calls(
            unquote(campaign_sid),
            status=query.get("status"),
            limit=query.get("limit"),
            next_token=query.get("next_token"),
        )

    @app.get("/campaigns/<campaign_sid>/redial")
    def redial_list(campaign_sid: str) -> dict[str, Any]:
        query = app.current_event.query_string_parameters or {}
        listed = views.redial(unquote(campaign_sid), query.get("statuses"), MAX_REDIAL_ATTEMPTS)
        return {
            "campaign_sid": unquote(campaign_sid),
            "numbers": len(listed.numbers),
            "csv": listed.csv(),
            "left_out": listed.left_out,
            "best_hours": [
                {
                    "hour": rate.hour,
                    "attempts": rate.attempts,
                    "connected": rate.connected,
                    "connect_rate": round(rate.rate, 3),
                }
                for rate in listed.best_hours
            ],
        }

    @app.get("/campaigns/<campaign_sid>/summary")
    def summary_page(campaign_sid: str) -> dict[str, Any]:
        sid = unquote(campaign_sid)
        url = pages.url(sid) if pages else None
        if url is None:
            views.campaign(sid)  # an unknown campaign is a 404 of its own
            raise CampaignNotFound(
                f"no summary page of campaign {sid} yet: it is written when the campaign "
                f"completes, is reconciled or swept; make summary CAMPAIGN={sid} renders one "
                "on your machine now"
            )
        return {"campaign_sid": sid, "url": url, "expires_in": URL_SECONDS}

    @app.exception_handler(CampaignNotFound)  # type: ignore[untyped-decorator]
    def not_found(error: CampaignNotFound) -> Response[str]:
        return _error(404, error)

    @app.exception_handler(TooLargeForTheApi)  # type: ignore[untyped-decorator]
    def too_large(error: TooLargeForTheApi) -> Response[str]:
        return _error(413, error)

    @app.exception_handler(BadRequest)  # type: ignore[untyped-decorator]
    def bad_request(error: BadRequest) -> Response[str]:
        return _error(400, error)

    app.exception_handler(BotoCoreError)(_unavailable)
    app.exception_handler(ClientError)(_unavailable)
    app.exception_handler(RaceLost)(_unavailable)

    @lambda_handler
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return app.resolve(event, context)

    return handler
