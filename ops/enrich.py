"""`make enrich CAMPAIGN=<sid>`: each final attempt of a campaign without call details asked about
now, from this machine, through Exotel's Call details API, and what it said written onto the
ledger (docs/architecture.md, "Call details"): attempts Exotel had not settled when the stack
asked, those left in the call details dead-letter queue, a campaign from before CallDetails was
on. Credentials and host as `make sweep` takes them (ops/sweep.py); the requests take their
turns at the account's limit with the stack's own."""

from __future__ import annotations

import os
from collections.abc import Mapping

from exotel_webhooks.sweep.enrichment import CallDetailsEnricher, EnrichReport
from ops.sweep import SweepNotConfigured, api_access, exotel_api
from ops.target import Target


class NoSuchCampaign(SweepNotConfigured):
    """The ledger holds nothing of the campaign."""


def enrich_campaign(
    target: Target, campaign_sid: str, environ: Mapping[str, str] = os.environ
) -> EnrichReport:
    """Raises SweepNotConfigured (no credentials, or no such campaign), CampaignApiRefused or
    CampaignApiUnavailable; what was written before either stays written."""
    access = api_access(target, environ)
    table = target.campaign_table()
    if not table.campaign_items(campaign_sid):
        raise NoSuchCampaign(f"the ledger holds no campaign {campaign_sid}")
    return CallDetailsEnricher(table, exotel_api(target, access, table)).enrich_campaign(
        campaign_sid
    )
