"""Removing numbers' rows from a stored report (an erasure; a report fetched after one): the
object rewritten without them, and its earlier versions deleted (docs/architecture.md,
"Personal data"). Constant memory whatever the report's size: the cleaned copy is spooled to disk.
"""

from __future__ import annotations

import csv
import hashlib
import tempfile
from collections.abc import Set
from dataclasses import dataclass
from typing import IO, Any

from exotel_webhooks.normalise import normalise_phone
from exotel_webhooks.reports.reconciliation import delimited_rows, phone_column
from exotel_webhooks.settings import NormalisationRules


@dataclass(frozen=True)
class Scrubbed:
    removed: int  # rows removed (0: the object was left as it was)
    kept: int = 0
    bytes: int = 0
    sha256: str = ""


def remove_numbers(
    s3: Any,  # noqa: ANN401 - boto3's S3 client
    uri: str,
    numbers: Set[str],
    rules: NormalisationRules,
) -> Scrubbed:
    """Rewrite the report at `uri` without the rows whose number (as the table keys it) is in
    `numbers`, and delete the object's earlier versions; nothing is written if none was there."""
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    removed, kept = 0, 0
    with tempfile.TemporaryFile() as cleaned:
        delimiter, rows = delimited_rows(body.iter_lines(keepends=True))
        header = next(rows, None)
        if header is None:
            return Scrubbed(0)
        column = phone_column(header)
        writer = csv.writer(_Utf8(cleaned), delimiter=delimiter)
        writer.writerow(header)
        for row in rows:
            # without a phone-number column, any cell may be the number
            cells = [row[column]] if column is not None and column < len(row) else row
            if any(
                cell.strip()
                and normalise_phone(cell.strip(), rules.default_phone_region).key in numbers
                for cell in cells
            ):
                removed += 1
                continue
            kept += 1
            writer.writerow(row)
        if not removed:
            return Scrubbed(0)
        size = cleaned.tell()
        cleaned.seek(0)
        digest = hashlib.sha256()
        for chunk in iter(lambda: cleaned.read(1 << 20), b""):
            digest.update(chunk)
        cleaned.seek(0)
        s3.upload_fileobj(cleaned, bucket, key, ExtraArgs={"ContentType": "text/csv"})
    delete_earlier_versions(s3, bucket, key)
    return Scrubbed(removed, kept, size, digest.hexdigest())


class _Utf8:
    """What csv.writer writes to: text, encoded onto a binary file."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw

    def write(self, text: str) -> int:
        return self._raw.write(text.encode("utf-8"))


def delete_earlier_versions(s3: Any, bucket: str, key: str) -> None:  # noqa: ANN401
    """The bucket keeps versions: the rows removed must not survive in an older one."""
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket, Prefix=key):
        for version in page.get("Versions", []) + page.get("DeleteMarkers", []):
            if version["Key"] == key and not version.get("IsLatest"):
                s3.delete_object(Bucket=bucket, Key=key, VersionId=version["VersionId"])
