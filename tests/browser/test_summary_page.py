"""A campaign's summary page in a real browser: Chromium, headless, draws its charts, and the
numbers it shows are the ledger's."""

from __future__ import annotations

import html
import re
import subprocess
from pathlib import Path

import boto3
import pytest

from localaws.emulation import REGION, Deployment
from tests.stack.test_summary import SID, run_campaign
from tests.support.analytics import dataset_answers
from tests.support.pipeline import Pipeline
from tests.support.png import pixel_colours

pytestmark = pytest.mark.enable_socket  # the pipeline serves reports over HTTP
BLUE, GREEN = (0x2F, 0x80, 0xED), (0x27, 0xAE, 0x60)  # the page's bar colours


def headless(chromium: str, *arguments: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(  # noqa: S603 - our own page, a local file
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--no-first-run", "--disable-dev-shm-usage", *arguments],
        capture_output=True,
        timeout=120,
        check=True,
    )  # fmt: skip


def test_chromium_draws_the_charts_with_the_ledgers_numbers(
    pipeline: Pipeline, stack: Deployment, chromium: str, tmp_path: Path
) -> None:
    # Given a completed campaign's page as the summary function stored it
    run_campaign(pipeline)
    s3 = boto3.client("s3", region_name=REGION)
    page = s3.get_object(Bucket=stack.physical_id("ReportBucket"), Key=f"summaries/{SID}.html")
    path = tmp_path / "summary.html"
    path.write_bytes(page["Body"].read())

    # When Chromium renders it: its DOM, and a screenshot
    dom = headless(chromium, "--dump-dom", path.as_uri()).stdout.decode()
    shot = tmp_path / "summary.png"
    headless(chromium, f"--screenshot={shot}", "--window-size=1200,2600", path.as_uri())

    # Then the charts were drawn: bars of both colours fill real pixels
    colours = pixel_colours(shot.read_bytes())
    assert colours[GREEN] > 1000, "no connect-rate bars drawn"
    assert colours[BLUE] > 1000, "no outcome bars drawn"
    # and the numbers it shows are the ledger's, as the analytics queries answer them
    asked = dataset_answers(stack, SID)
    text = html.unescape(re.sub(r"<[^>]+>", " ", dom))
    for row in asked["connect_rate_by_hour"]:
        assert f"{row['connected']}/{row['attempts']}" in text
    numbers = sum(r["numbers"] for r in asked["outcome_mix"])
    assert re.search(rf"\b{numbers}\s+numbers with a final outcome", text)
    for row in asked["outcome_mix"]:
        assert f'data-label="{row["status"]}" data-value="{row["numbers"]}"' in dom
