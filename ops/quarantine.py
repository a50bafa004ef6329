"""List the quarantined requests, and replay them through the receiver after a fix.

A replay POSTs the stored request (body, content type, path, query) to the webhook URL with the
current token, exactly as Exotel would, so it takes the receiver's whole path. Each replayed
object is tagged with what happened (`replayed=accepted|quarantined`) and skipped by the next
replay, so replaying twice changes nothing; with `force`, an accepted callback is replayed again
and the processors ignore it as a duplicate (same event id).
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from botocore.exceptions import ClientError

from ops.target import Target

PREFIX = "quarantine/"
REPLAYED_TAG = "replayed"

type Post = Callable[[str, bytes, dict[str, str]], tuple[int, dict[str, Any]]]


@dataclass(frozen=True)
class QuarantinedRequest:
    key: str
    callback_type: str
    reason: str
    received_at: str
    replayed: str | None  # None, "accepted" or "quarantined"


@dataclass(frozen=True)
class Replayed:
    key: str
    http_status: int
    outcome: str  # "accepted", "quarantined", "skipped" (already replayed) or "failed"
    detail: str


def quarantined(
    target: Target, callback_type: str | None = None, since: str | None = None
) -> Iterator[QuarantinedRequest]:
    """Oldest first. `since` is a day (YYYY-MM-DD); `callback_type` one of the routes' names."""
    s3 = target.client("s3")
    bucket = target.physical_id("QuarantineBucket")
    prefix = PREFIX + (f"{callback_type}/" if callback_type else "")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            key = item["Key"]
            _, kind, *day, _ = key.split("/")
            if since and "-".join(day) < since:
                continue
            document = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
            yield QuarantinedRequest(
                key=key,
                callback_type=kind,
                reason=document["reason"],
                received_at=document["received_at"],
                replayed=_tags(s3, bucket, key).get(REPLAYED_TAG),
            )


def replay(
    target: Target,
    *,
    keys: list[str] | None = None,
    callback_type: str | None = None,
    since: str | None = None,
    force: bool = False,
    post: Post | None = None,
) -> list[Replayed]:
    s3 = target.client("s3")
    bucket = target.physical_id("QuarantineBucket")
    send = post or _http_post(target.webhook_base_url(), target.webhook_token())
    selected = (
        keys if keys else [request.key for request in quarantined(target, callback_type, since)]
    )
    results = []
    for key in selected:
        if not force and _tags(s3, bucket, key).get(REPLAYED_TAG):
            results.append(Replayed(key, 0, "skipped", "already replayed (force to resend)"))
            continue
        document = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        status, answer = send(*_request_of(document))
        outcome = answer.get("status") if status == 200 else None
        if outcome not in ("accepted", "quarantined"):
            results.append(Replayed(key, status, "failed", json.dumps(answer)))
            continue
        detail = answer.get("event_id", "") if outcome == "accepted" else answer.get("reason", "")
        _tag(s3, bucket, key, outcome)
        if outcome == "quarantined":  # stored again, under today's date: not to be retried
            event_id = answer.get("event_id", "")
            kind = document["callback_type"]
            for again in _requarantined_keys(s3, bucket, kind, event_id, exclude=key):
                _tag(s3, bucket, again, outcome)
        results.append(Replayed(key, status, outcome, detail))
    return results


def _request_of(document: dict[str, Any]) -> tuple[str, bytes, dict[str, str]]:
    request = document["request"]
    if request.get("body_encoding") == "base64":
        body = base64.b64decode(request["body"])
    else:
        body = request["body"].encode("utf-8", "surrogatepass")
    query = urlencode([(k, v) for k, values in request.get("query", {}).items() for v in values])
    path = request["path"] + (f"?{query}" if query else "")
    headers = {
        name: value
        for name, value in request.get("headers", {}).items()
        if name in ("content-type", "user-agent")
    }
    return path, body, headers


def _http_post(base_url: str, token: str) -> Post:
    def post(path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        separator = "&" if "?" in path else "?"
        url = f"{base_url.rstrip('/')}{path}{separator}{urlencode({'token': token})}"
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - the stack's own URL
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            text = error.read()
            try:
                return error.code, json.loads(text)
            except ValueError:
                return error.code, {"message": text.decode("utf-8", "replace")}

    return post


def _tags(s3: Any, bucket: str, key: str) -> dict[str, str]:  # noqa: ANN401 - an S3 client
    tag_set = s3.get_object_tagging(Bucket=bucket, Key=key).get("TagSet", [])
    return {tag["Key"]: tag["Value"] for tag in tag_set}


def _tag(s3: Any, bucket: str, key: str, outcome: str) -> None:  # noqa: ANN401
    s3.put_object_tagging(
        Bucket=bucket, Key=key, Tagging={"TagSet": [{"Key": REPLAYED_TAG, "Value": outcome}]}
    )


def _requarantined_keys(
    s3: Any,  # noqa: ANN401
    bucket: str,
    callback_type: str,
    event_id: str,
    exclude: str,
) -> list[str]:
    """Where the receiver just stored the same request again: today's key (yesterday's too,
    for a replay that ran across midnight UTC)."""
    today = datetime.now(UTC)
    keys = []
    for day in (today, today - timedelta(days=1)):
        key = f"{PREFIX}{callback_type}/{day:%Y/%m/%d}/{event_id}.json"
        if key == exclude:
            continue
        try:
            s3.head_object(Bucket=bucket, Key=key)
        except ClientError:
            continue
        keys.append(key)
    return keys
