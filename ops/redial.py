"""`make redial CAMPAIGN=<sid> [STATUSES=busy,no-answer,failed] [OUT=<file>]`: whom to call
again, as the read API's `/redial` answers it (views/redial.py), from this machine: the CSV
Exotel's contact-list upload takes goes to OUT (or standard output), and one line to standard
error says how many numbers, what was left out and why, and the best hours to call."""

from __future__ import annotations

import os
from pathlib import Path

from exotel_webhooks.views.campaigns import CampaignViews
from exotel_webhooks.views.redial import RedialList
from ops.target import Target


def redial(target: Target, campaign_sid: str, statuses: str | None) -> RedialList:
    """Raises views.campaigns.BadRequest (a status) or CampaignNotFound, as the route does."""
    return CampaignViews(target.campaign_table(), target.rules).redial(campaign_sid, statuses)


def summary_line(campaign_sid: str, listed: RedialList, written_to: Path | None) -> str:
    left_out = ", ".join(f"{n} {why}" for why, n in sorted(listed.left_out.items())) or "none"
    hours = ", ".join(
        f"{r.hour:02d}:00 ({r.connected}/{r.attempts} connected)" for r in listed.best_hours
    )
    where = f" -> {written_to}" if written_to else ""
    return (
        f"{campaign_sid}: {len(listed.numbers)} number(s) to call again{where}; left out: "
        f"{left_out}; best hours: {hours or 'not enough attempts to say'}"
    )


def write_private(path: Path, text: str) -> None:
    """Unmasked numbers: a file only its owner can read (a list it replaces is replaced)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
