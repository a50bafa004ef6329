"""The dataset's rows to Amazon Data Firehose, which gathers them into gzipped objects under
`analytics/` in the report bucket (docs/architecture.md, "The analytics dataset").

Firehose bills each record in 5 KB steps, so an invocation's rows go as few records as fit
(newline-delimited JSON, up to Firehose's 1,000 KiB a record): a record a row would bill 5 KB
for each row of about 360 bytes (docs/benchmarks.md prices both). Records Firehose refuses are
sent again; if some still fail, the invocation fails and Lambda retries its records: a row sent
twice is the same row, and the queries take one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_firehose import FirehoseClient

MAX_RECORD_BYTES = 1_000 * 1024  # Firehose's limit for one record
MAX_BATCH_RECORDS = 500  # and for one PutRecordBatch
MAX_BATCH_BYTES = 4 * 1024 * 1024
ATTEMPTS = 4


class DatasetUnavailable(Exception):
    """Firehose kept refusing rows: the invocation fails and its records are retried."""


def ndjson_records(rows: Sequence[dict[str, Any]], limit: int = MAX_RECORD_BYTES) -> list[bytes]:
    """Rows as newline-delimited JSON, packed into as few records of at most `limit` bytes as
    they fit in (in order: a record never splits a row)."""
    records: list[bytes] = []
    current = bytearray()
    for row in rows:
        line = json.dumps(row, separators=(",", ":"), sort_keys=True, default=str).encode()
        line += b"\n"
        if len(line) > limit:
            raise ValueError(f"a dataset row of {len(line)} bytes exceeds a record")
        if current and len(current) + len(line) > limit:
            records.append(bytes(current))
            current = bytearray()
        current += line
    if current:
        records.append(bytes(current))
    return records


def record_batches(
    records: Sequence[bytes],
    max_records: int = MAX_BATCH_RECORDS,
    max_bytes: int = MAX_BATCH_BYTES,
) -> Iterator[list[bytes]]:
    """Records in order, as PutRecordBatch calls Firehose takes."""
    batch: list[bytes] = []
    size = 0
    for record in records:
        if batch and (len(batch) == max_records or size + len(record) > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(record)
        size += len(record)
    if batch:
        yield batch


class DatasetDelivery:
    def __init__(
        self,
        client: FirehoseClient,
        stream_name: str,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.stream_name = stream_name
        self.sleep = sleep

    def put(self, rows: Sequence[dict[str, Any]]) -> None:
        for batch in record_batches(ndjson_records(rows)):
            self._put_batch(batch)

    def _put_batch(self, records: list[bytes]) -> None:
        pending = records
        for attempt in range(ATTEMPTS):
            if attempt:
                self.sleep(0.1 * 2**attempt)
            answer = self.client.put_record_batch(
                DeliveryStreamName=self.stream_name,
                Records=[{"Data": record} for record in pending],
            )
            if not answer.get("FailedPutCount"):
                return
            responses = answer["RequestResponses"]
            pending = [r for r, res in zip(pending, responses, strict=True) if "ErrorCode" in res]
        raise DatasetUnavailable(f"Firehose refused {len(pending)} record(s) {ATTEMPTS} times")
