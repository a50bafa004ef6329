"""Streaming a report into S3 in constant memory (the report fetcher's alone: kept out of the
receiver's imports)."""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef


PART_BYTES = 8 * 1024 * 1024
PARTS_IN_FLIGHT = 3


def stream_to_s3(
    client: S3Client, reader: Readable, bucket: str, key: str, content_type: str
) -> str | None:
    """A multipart upload from a stream in constant memory: at most PARTS_IN_FLIGHT parts are
    held (and uploaded concurrently) while the next is read; any failure aborts the upload.
    (s3transfer's upload_fileobj held read-ahead parts in proportion to the stream: measured
    2x a 96 MiB report.) Returns the stored version's id (None in an unversioned bucket)."""
    upload = _MultipartUpload(
        client,
        bucket,
        key,
        client.create_multipart_upload(Bucket=bucket, Key=key, ContentType=content_type)[
            "UploadId"
        ],
    )
    try:
        parts: list[CompletedPartTypeDef] = []
        with ThreadPoolExecutor(max_workers=PARTS_IN_FLIGHT) as pool:
            in_flight: deque[Future[CompletedPartTypeDef]] = deque()
            number = 0
            while chunk := _read_part(reader):
                number += 1
                in_flight.append(pool.submit(upload.part, number, chunk))
                del chunk  # the future holds it until its upload is done
                while len(in_flight) >= PARTS_IN_FLIGHT:
                    parts.append(in_flight.popleft().result())
            parts += [future.result() for future in in_flight]
        completed = client.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload.upload_id, MultipartUpload={"Parts": parts}
        )
    except BaseException:
        client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload.upload_id)
        raise
    return completed.get("VersionId")  # the object's version, in a versioned bucket


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class _MultipartUpload:
    client: S3Client
    bucket: str
    key: str
    upload_id: str

    def part(self, number: int, body: bytes) -> CompletedPartTypeDef:
        response = self.client.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, PartNumber=number, Body=body
        )
        return {"PartNumber": number, "ETag": response["ETag"]}


def _read_part(reader: Readable) -> bytes:
    pieces, size = [], 0
    while size < PART_BYTES and (piece := reader.read(PART_BYTES - size)):
        pieces.append(piece)
        size += len(piece)
    return b"".join(pieces)
