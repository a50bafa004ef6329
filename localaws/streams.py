"""Lambda's DynamoDB stream event source mapping, with or without tumbling windows, in-process.

Per shard, in order: a batch of records is handed to the function with the window's state and
the shard's id; the state it returns goes with the next batch of the same window; when the
window ends, one last invocation (isFinalInvokeForWindow) gets the state to act on. A failed
invocation is retried with the same records and the state it was given, and the shard waits
for it, as Lambda does with MaximumRetryAttempts -1.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from localaws.emulation import REGION, StreamSource

if TYPE_CHECKING:
    from mypy_boto3_dynamodbstreams import DynamoDBStreamsClient

type Handler = Callable[[dict[str, Any]], Any]


def streams_client(
    endpoint_url: str | None = None, session: boto3.Session | None = None
) -> DynamoDBStreamsClient:
    """botocore addresses DynamoDB Streams at an account endpoint (<account>.streams-ddb...)
    that moto does not serve; the regional endpoint is the same service."""
    return (session or boto3).client(
        "dynamodbstreams",
        region_name=REGION,
        endpoint_url=endpoint_url,
        config=Config(account_id_endpoint_mode="disabled"),
    )


@dataclass
class _Shard:
    iterator: str
    window_start: float | None = None
    state: dict[str, Any] = field(default_factory=dict)
    held: list[dict[str, Any]] = field(default_factory=list)  # fetched, not yet handled
    unread: bool = False  # the last read failed


class StreamPoller:
    def __init__(
        self,
        client: DynamoDBStreamsClient,
        stream_arn: str,
        source: StreamSource,
        handler: Handler,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client, self.stream_arn, self.source = client, stream_arn, source
        self.handler, self.clock = handler, clock
        self.shards: dict[str, _Shard] = {}

    @property
    def busy(self) -> bool:
        """A window is open, or a batch or a read waits for a retry."""
        return any(
            shard.window_start is not None or shard.held or shard.unread
            for shard in self.shards.values()
        )

    def poll(self, close_windows: bool = False) -> int:
        """One pass over the shards: a batch each, and each window that has ended (all open
        ones with `close_windows`, as if time ran on) closed. Returns records handled."""
        handled = 0
        description = self.client.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        for shard_id in [shard["ShardId"] for shard in description.get("Shards", [])]:
            shard = self.shards.get(shard_id) or self._open(shard_id)
            handled += self._deliver(shard_id, shard)
            ended = shard.window_start is not None and (
                close_windows or self.clock() >= shard.window_start + self.source.window_seconds
            )
            if ended and not shard.held:
                self._close(shard_id, shard)
        return handled

    def _open(self, shard_id: str) -> _Shard:
        iterator = self.client.get_shard_iterator(
            StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        self.shards[shard_id] = _Shard(iterator)
        return self.shards[shard_id]

    def _deliver(self, shard_id: str, shard: _Shard) -> int:
        if not shard.held:
            try:
                fetched = self.client.get_records(
                    ShardIterator=shard.iterator, Limit=self.source.batch_size
                )
            except ClientError:
                shard.unread = True  # Lambda's poller tries the shard again
                return 0
            shard.unread = False
            shard.iterator = fetched["NextShardIterator"]
            shard.held = [self._record(dict(record)) for record in fetched.get("Records", [])]
        if not shard.held:
            return 0
        if shard.window_start is None:
            now = self.clock()
            shard.window_start = now - now % max(self.source.window_seconds, 1)
        response = self._invoke(shard_id, shard, shard.held, final=False)
        if response is None:
            return 0  # retried on the next poll, with the same records and state
        shard.state = dict(response.get("state") or {})
        delivered, shard.held = len(shard.held), []
        return delivered

    def _close(self, shard_id: str, shard: _Shard) -> None:
        # a window's last invocation (a mapping without tumbling windows has none to close)
        tumbling = bool(self.source.window_seconds)
        if not tumbling or self._invoke(shard_id, shard, [], final=True) is not None:
            shard.window_start, shard.state = None, {}

    def _invoke(
        self, shard_id: str, shard: _Shard, records: list[dict[str, Any]], final: bool
    ) -> dict[str, Any] | None:
        start = shard.window_start or 0.0
        event: dict[str, Any] = {"Records": records}
        if self.source.window_seconds:  # a tumbling window's invocation
            event |= {
                "window": {"start": _iso(start), "end": _iso(start + self.source.window_seconds)},
                "state": dict(shard.state),
                "shardId": shard_id,
                "eventSourceARN": self.stream_arn,
                "isFinalInvokeForWindow": final,
                "isWindowTerminatedEarly": False,
            }
        try:
            response = self.handler(event)
        except Exception:
            return None
        if not self.source.window_seconds:
            return {"state": {}}  # no window: any answer that is not an error succeeds
        if not isinstance(response, dict) or "state" not in response:
            return None  # Lambda treats a response without state as a failure
        return response

    def _record(self, record: dict[str, Any]) -> dict[str, Any]:
        dynamodb = dict(record["dynamodb"])
        created = dynamodb.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            dynamodb["ApproximateCreationDateTime"] = created.timestamp()
        return {**record, "dynamodb": dynamodb, "eventSourceARN": self.stream_arn}


def run_until_idle(
    pollers: Sequence[StreamPoller], deliver: Callable[[], int] = lambda: 0, rounds: int = 50
) -> None:
    """Poll the streams (and whatever `deliver` delivers, a count) until nothing arrives and
    every window is closed, as time running on would close them. Raises if a failed batch is
    still failing after `rounds` rounds without progress."""
    idle = 0
    while idle < rounds:
        if deliver() + sum(poller.poll() for poller in pollers):
            idle = 0
            continue
        if not any(poller.busy for poller in pollers):
            return
        for poller in pollers:
            poller.poll(close_windows=True)
        idle += 1
    raise RuntimeError("the stream kept failing")


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
