"""What the local stack changes in the emulator keeps the emulator's meaning."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.sqs.models import sqs_backends

from localaws import moto_patches
from localaws.emulation import REGION, StreamSource, emulated_account_environment
from localaws.streams import StreamPoller, streams_client


@pytest.fixture
def table() -> Iterator[Any]:
    with emulated_account_environment(), mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(
            TableName="t",
            KeySchema=[
                {"AttributeName": "PK", "KeyType": "HASH"},
                {"AttributeName": "SK", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "PK", "AttributeType": "S"},
                {"AttributeName": "SK", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        yield client


class Function:
    """Sums `n` of the new images into its window's state; fails when told to."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.failures = 0
        self.totals: list[int] = []

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        self.events.append(event)
        if self.failures:
            self.failures -= 1
            raise RuntimeError("injected")
        total = int(event["state"].get("total", "0")) + sum(
            int(record["dynamodb"]["NewImage"]["n"]["N"]) for record in event["Records"]
        )
        if event["isFinalInvokeForWindow"]:
            self.totals.append(total)
            return {"state": {}}
        return {"state": {"total": str(total)}}


def poller(client: Any, function: Function, batch_size: int = 2) -> StreamPoller:
    arn = client.describe_table(TableName="t")["Table"]["LatestStreamArn"]
    source = StreamSource("F", "t", batch_size=batch_size, window_seconds=5)
    return StreamPoller(streams_client(), arn, source, function)


def put(client: Any, n: int) -> None:
    item = {"PK": {"S": f"p{n}"}, "SK": {"S": "s"}, "n": {"N": str(n)}}
    client.put_item(TableName="t", Item=item)


def test_a_window_carries_its_state_to_a_final_invocation_with_the_shard(table: Any) -> None:
    # Given five writes, and a function fed two records a batch
    for n in range(1, 6):
        put(table, n)
    function = Function()
    stream = poller(table, function)

    # When the stream is polled until idle, then the window ends
    while stream.poll():
        pass
    stream.poll(close_windows=True)

    # Then every record came once, in order, with the shard's id, and the last invocation
    # (final, no records) got the whole window's state
    records = [r["dynamodb"]["NewImage"]["n"]["N"] for e in function.events for r in e["Records"]]
    assert records == ["1", "2", "3", "4", "5"]
    assert len({event["shardId"] for event in function.events}) == 1
    assert function.events[-1]["isFinalInvokeForWindow"]
    assert not function.events[-1]["Records"]
    assert function.totals == [15]
    assert not stream.busy


def test_a_failed_invocation_is_retried_with_the_same_records_and_state(table: Any) -> None:
    # Given writes, and a function that fails its second and third invocations
    for n in range(1, 5):
        put(table, n)
    function = Function()
    stream = poller(table, function)
    assert stream.poll() == 2
    function.failures = 2

    # When the stream is polled past the failures and the window closes
    while stream.poll() == 0 and stream.busy and function.failures:
        pass
    while stream.poll():
        pass
    stream.poll(close_windows=True)

    # Then the failed batch came again as it was, and the window still counts each record once
    second, retried = function.events[1], function.events[2]
    assert (second["Records"], second["state"]) == (retried["Records"], retried["state"])
    assert function.totals == [10]


@pytest.fixture
def sqs() -> Iterator[Any]:
    with emulated_account_environment(), mock_aws():
        moto_patches.apply()
        yield boto3.client("sqs", region_name=REGION)


def test_queues_still_count_their_messages_and_fifo_queues_still_deduplicate(sqs: Any) -> None:
    # Given a standard queue and a FIFO queue that deduplicates by content
    standard = sqs.create_queue(QueueName="standard")["QueueUrl"]
    fifo = sqs.create_queue(
        QueueName="deduplicated.fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
    )["QueueUrl"]

    # When the same body is sent to each three times
    for _ in range(3):
        sqs.send_message(QueueUrl=standard, MessageBody="same")
        sqs.send_message(QueueUrl=fifo, MessageBody="same", MessageGroupId="g")

    # Then the standard queue counts three, the FIFO queue kept one
    def count(url: str) -> str:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
        return str(attributes["Attributes"]["ApproximateNumberOfMessages"])

    assert (count(standard), count(fifo)) == ("3", "1")

    # And receiving takes messages in flight (counted as such), and drops those past retention
    received = sqs.receive_message(QueueUrl=standard, MaxNumberOfMessages=2)["Messages"]
    assert (len(received), count(standard)) == (2, "1")
    expired = sqs.create_queue(QueueName="expired", Attributes={"MessageRetentionPeriod": "60"})
    sqs.send_message(QueueUrl=expired["QueueUrl"], MessageBody="old")
    account = boto3.client("sts", region_name=REGION).get_caller_identity()["Account"]
    [message] = sqs_backends[account][REGION].queues["expired"]._messages
    # sent two minutes ago
    setattr(message, "sent_timestamp", int(str(message.sent_timestamp)) - 120_000)  # noqa: B010
    assert "Messages" not in sqs.receive_message(QueueUrl=expired["QueueUrl"])


def test_update_expressions_are_still_checked_as_dynamodb_checks_them(table: Any) -> None:
    # Given the emulator's faster UpdateExpression checks (localaws.moto_patches)
    moto_patches.apply()
    key = {"PK": {"S": "p"}, "SK": {"S": "s"}}
    values = {":a": {"S": "1"}, ":b": {"S": "2"}}

    # When an expression repeats a clause, or names one path twice, Then it is refused
    for expression in ("SET a = :a SET b = :b", "SET a = :a, a = :b", "REMOVE a REMOVE b"):
        with pytest.raises(ClientError, match="ValidationException"):
            table.update_item(
                TableName="t",
                Key=key,
                UpdateExpression=expression,
                **({"ExpressionAttributeValues": values} if ":" in expression else {}),
            )

    # And a valid one, sent twice (its parse is shared), applies each time
    for value in ("1", "2"):
        table.update_item(
            TableName="t",
            Key=key,
            UpdateExpression="SET a = :a, b = :b",
            ExpressionAttributeValues={":a": {"S": value}, ":b": {"S": f"b{value}"}},
        )
    stored = table.get_item(TableName="t", Key=key)["Item"]
    assert (stored["a"], stored["b"]) == ({"S": "2"}, {"S": "b2"})


def test_a_query_still_reads_one_partition_in_order_page_by_page(table: Any) -> None:
    # Given the emulator's partition-only Query (localaws.moto_patches), and two partitions
    moto_patches.apply()
    for pk in ("a", "b"):
        for sk in ("x#3", "x#1", "y#1", "x#2"):
            table.put_item(TableName="t", Item={"PK": {"S": pk}, "SK": {"S": sk}})

    # When one partition is read by a key condition, newest first, one item a page
    query = {
        "TableName": "t",
        "KeyConditionExpression": "PK = :pk AND begins_with(SK, :x)",
        "ExpressionAttributeValues": {":pk": {"S": "b"}, ":x": {"S": "x#"}},
        "ScanIndexForward": False,
        "Limit": 1,
    }
    seen = []
    while True:
        page = table.query(**query)
        seen += [(item["PK"]["S"], item["SK"]["S"]) for item in page["Items"]]
        if "LastEvaluatedKey" not in page:
            break
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # Then it is that partition's matching items, in descending order, each once
    assert seen == [("b", "x#3"), ("b", "x#2"), ("b", "x#1")]
    # And a scan still sees every item
    assert len(table.scan(TableName="t")["Items"]) == 8


def test_an_update_that_creates_its_item_writes_one_record_while_the_stream_is_read(
    table: Any,
) -> None:
    # Given the emulation's one stream record per update, and a reader of the stream meanwhile
    moto_patches.apply()
    arn = table.describe_table(TableName="t")["Table"]["LatestStreamArn"]
    streams = streams_client()
    errors: list[Exception] = []
    writing = threading.Event()

    def read_the_stream() -> None:
        while writing.is_set():
            try:
                streams.describe_stream(StreamArn=arn)
            except Exception as error:  # any failure is the finding
                errors.append(error)

    # When 300 updates create their items, the threads switching as often as they can
    writing.set()
    reader = threading.Thread(target=read_the_stream)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    reader.start()
    try:
        for n in range(300):
            table.update_item(
                TableName="t",
                Key={"PK": {"S": f"p{n}"}, "SK": {"S": "s"}},
                UpdateExpression="SET n = :n",
                ExpressionAttributeValues={":n": {"N": str(n)}},
            )
    finally:
        writing.clear()
        reader.join()
        sys.setswitchinterval(interval)

    # Then the stream could be read throughout, and holds one record per update
    assert errors == []
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]
    assert len(records) == 300
    assert all("n" in record["dynamodb"]["NewImage"] for record in records)


def test_a_stack_template_reads_the_same_as_json_or_as_yaml() -> None:
    # Given the emulator's JSON-first template parsing (localaws.moto_patches)
    moto_patches.apply()
    from moto.cloudformation.models import (  # noqa: PLC0415
        Stack,  # patched above
    )

    yaml_text = "Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n    Properties: {Name: !Ref X}\n"
    json_text = '{"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {}}}}'

    # When each is parsed, Then JSON gives its document and YAML (with a short tag) still works
    assert Stack.parse_template(json_text) == {
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {}}}
    }
    parsed = Stack.parse_template(yaml_text)
    assert parsed["Resources"]["Queue"]["Properties"] == {"Name": {"Ref": "X"}}


def test_the_patches_refuse_a_moto_they_were_not_written_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a moto other than the one the patches were written for
    import moto  # noqa: PLC0415

    moto_patches.apply()  # (once for real, so the patched process stays as it was)
    monkeypatch.setattr(moto, "__version__", "9.9.9")
    monkeypatch.setattr(moto_patches, "_done", False)

    # When they are applied, Then they refuse with what to do
    with pytest.raises(moto_patches.UnexpectedMotoVersion, match=r"written for moto 5\.2\.5"):
        moto_patches.apply()


def test_kms_keys_still_encrypt_and_sign_as_their_kind_allows() -> None:
    # Given the emulator without private keys for symmetric KMS keys (localaws.moto_patches)
    moto_patches.apply()
    with emulated_account_environment(), mock_aws():
        kms = boto3.client("kms", region_name=REGION)
        symmetric = kms.create_key()["KeyMetadata"]["KeyId"]
        signing = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="RSA_2048")["KeyMetadata"]

        # When each is used as its kind allows
        blob = kms.encrypt(KeyId=symmetric, Plaintext=b"secret")["CiphertextBlob"]
        signature = kms.sign(
            KeyId=signing["KeyId"],
            Message=b"m",
            SigningAlgorithm="RSASSA_PSS_SHA_256",
        )["Signature"]

        # Then the symmetric key still round-trips and the asymmetric one still signs
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"secret"
        verified = kms.verify(
            KeyId=signing["KeyId"],
            Message=b"m",
            Signature=signature,
            SigningAlgorithm="RSASSA_PSS_SHA_256",
        )
        assert verified["SignatureValid"]
