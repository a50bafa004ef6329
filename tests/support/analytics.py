"""The analytics queries asked of a deployment's dataset, as `make analytics LOCAL=1` asks
them: the dataset's objects from its S3, the queries in DuckDB."""

from __future__ import annotations

from typing import Any

import boto3

from localaws.analytics import local_dataset, queries
from localaws.emulation import REGION, Deployment


def dataset_answers(
    stack: Deployment, campaign_sid: str, previous: int = 5, asked: tuple[str, ...] = ()
) -> dict[str, list[dict[str, Any]]]:
    """Each query's rows for the campaign (every query's, or those `asked`)."""
    s3 = boto3.client("s3", region_name=REGION)
    with local_dataset(s3, stack.physical_id("ReportBucket")) as dataset:
        return {
            name: dataset.run(query, query.arguments(campaign_sid, previous)).records()
            for name, query in queries().items()
            if not asked or name in asked
        }
