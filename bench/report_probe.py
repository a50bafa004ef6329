"""Runs in a fresh interpreter: one report fetched into S3, by the fetcher or by plain
upload_fileobj; prints seconds and peak RSS as JSON. argv: <fetcher|upload_fileobj> <url>
<s3 endpoint> <bucket>"""

import json
import sys
import time
from pathlib import Path

import boto3
import urllib3

from bench.measure import peak_rss_kib
from exotel_webhooks.ledger.table import CampaignTable
from exotel_webhooks.messages import ReportRequest
from exotel_webhooks.reports.fetcher import ReportFetcher
from exotel_webhooks.reports.safe_http import FetchPolicy
from exotel_webhooks.settings import NormalisationRules

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    mode, url, endpoint, bucket = sys.argv[1:5]
    s3 = boto3.client("s3", region_name="ap-south-1", endpoint_url=endpoint)
    started = time.perf_counter()
    if mode == "fetcher":
        fetcher = ReportFetcher(
            table=CampaignTable(boto3.client("dynamodb", region_name="ap-south-1"), "unused"),
            s3=s3,
            bucket=bucket,
            policy=FetchPolicy(("127.0.0.1",), max_bytes=2**40, allow_loopback=True),
            rules=NormalisationRules(),
        )
        size = fetcher.fetch_into_s3(
            ReportRequest(campaign_sid="bench", report_url=url, event_id=f"f{time.time_ns()}")
        )["bytes"]
    else:
        response = urllib3.PoolManager().request("GET", url, preload_content=False)
        s3.upload_fileobj(response, bucket, f"plain/{time.time_ns()}.csv")  # type: ignore[arg-type]
        size = int(response.headers["content-length"])
    seconds = time.perf_counter() - started
    print(json.dumps({"bytes": size, "seconds": seconds, "peak_rss_kib": peak_rss_kib()}))


main()
