"""Every change this project makes to moto, in one place, applied once per process.

Each patch makes the emulation behave as AWS does where moto differs, or removes a cost moto
pays that AWS does not (measured). They reach into moto's internals, so they are written for
one moto version: `apply()` refuses any other, and whoever upgrades moto re-reads each one.
"""

from __future__ import annotations

import functools
import gzip
import json
import logging
import re
import threading
import warnings
from collections.abc import Callable
from datetime import datetime
from typing import Any

WRITTEN_FOR = "5.2.5"  # uv.lock's moto; apply() checks it

_applied = threading.Lock()
_MODELS: list[type] = []  # the models this module adds to moto's CloudFormation
_done = False


class UnexpectedMotoVersion(RuntimeError):
    pass


def apply() -> None:
    """Apply every patch (idempotent, thread-safe)."""
    global _done  # noqa: PLW0603 - once per process
    with _applied:
        if _done:
            return
        import moto  # noqa: PLC0415 - imported late so --help stays fast

        if moto.__version__ != WRITTEN_FOR:
            raise UnexpectedMotoVersion(
                f"localaws/moto_patches.py was written for moto {WRITTEN_FOR}, not "
                f"{moto.__version__}: check each patch against the new version, then update "
                "WRITTEN_FOR"
            )
        _parse_json_templates_as_json()
        _no_private_key_for_symmetric_keys()
        _one_stream_record_per_update()
        _check_update_expressions_once()
        _query_one_partition()
        _serialise_dynamodb_requests()
        _count_queues_only_when_asked()
        _list_moto_services_once()
        _create_function_urls()
        _create_analytics_resources()
        _deliver_as_firehose_does()
        _create_archives_as_cloudformation_does()
        _version_buckets_as_cloudformation_does()
        _done = True


def quiet_unsupported_resources() -> None:
    """moto reports each resource type its CloudFormation skips (API Gateway v2, bucket policies,
    secrets); those are expected and handled by localaws.emulation, so they are noise. (Called
    for each deployment: pytest restores the warning filters after every test.)"""
    logging.getLogger("moto").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="Tried to parse", category=UserWarning)


def _parse_json_templates_as_json() -> None:
    """moto parses every stack's template with PyYAML's pure-Python loader, JSON or not: 45% of
    a deployment's time here (the translated template is 160 kB of JSON). JSON is YAML, so the
    JSON parser gives the same document; anything else still goes to YAML."""
    from moto.cloudformation.models import (  # noqa: PLC0415
        Stack,
    )

    parse_yaml = Stack.parse_template

    def parse_template(template: str) -> dict[str, Any]:
        try:
            document = json.loads(template)
        except ValueError:
            document = None
        parsed: dict[str, Any] = document if isinstance(document, dict) else parse_yaml(template)
        return parsed

    Stack.parse_template = staticmethod(parse_template)  # type: ignore[method-assign]


def _version_buckets_as_cloudformation_does() -> None:
    """moto's CloudFormation ignores an AWS::S3::Bucket's VersioningConfiguration: a bucket
    the template versions is versioned, so a delete without a version id leaves the object's
    versions behind as in AWS (an erasure must delete each version)."""
    from moto.s3.models import FakeBucket, s3_backends  # noqa: PLC0415

    create = FakeBucket.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create_versioned(
        cls: type[FakeBucket],
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: object,
    ) -> FakeBucket:
        bucket: FakeBucket = create(
            cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
        )
        versioning = cloudformation_json.get("Properties", {}).get("VersioningConfiguration", {})
        if versioning.get("Status"):
            backend = s3_backends[account_id][bucket.partition]
            backend.put_bucket_versioning(bucket.name, versioning["Status"])
        return bucket

    FakeBucket.create_from_cloudformation_json = classmethod(create_versioned)  # type: ignore[method-assign, assignment, arg-type]


def _create_archives_as_cloudformation_does() -> None:
    """moto's CloudFormation names an AWS::Events::Archive by its resource name (past the
    48 characters an archive's name may have) whatever its ArchiveName, and hands its
    EventPattern, an object in a template, to a parser that takes JSON text: an archive is
    created as CloudFormation creates it, by its ArchiveName and with its pattern as JSON, and
    listed among the stack's resources."""
    from moto.events.models import Archive  # noqa: PLC0415

    create = Archive.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create_as_aws(
        cls: type[Archive],
        resource_name: str,
        cloudformation_json: dict[str, Any],
        *args: object,
        **kwargs: object,
    ) -> Archive:
        properties = dict(cloudformation_json["Properties"])
        if isinstance(properties.get("EventPattern"), dict):
            properties["EventPattern"] = json.dumps(properties["EventPattern"])
        name = properties.get("ArchiveName") or resource_name
        created: Archive = create(
            cls, name, {**cloudformation_json, "Properties": properties}, *args, **kwargs
        )
        return created

    Archive.create_from_cloudformation_json = classmethod(create_as_aws)  # type: ignore[method-assign, assignment, arg-type]
    # and, as in CloudFormation, its physical id is its name (moto lists it without one)
    Archive.physical_resource_id = property(lambda archive: archive.name)  # type: ignore[attr-defined]


def _no_private_key_for_symmetric_keys() -> None:
    """moto generates a 2048-bit RSA private key for every KMS key, symmetric ones included
    (the stack's two keys: 70 ms of each 280 ms deployment). A symmetric key never signs, so
    it gets none; an asymmetric key still gets its own."""
    from moto.kms import models  # noqa: PLC0415

    generate = models.generate_private_key  # type: ignore[attr-defined]

    def generate_private_key(key_spec: str) -> Any:  # noqa: ANN401 - moto's key type
        return None if key_spec == "SYMMETRIC_DEFAULT" else generate(key_spec)

    models.generate_private_key = generate_private_key  # type: ignore[attr-defined]


def _one_stream_record_per_update() -> None:
    """An UpdateItem that creates its item writes two stream records in moto: an INSERT of the
    bare key (moto creates the item, then applies the update), then the INSERT of the item.
    DynamoDB writes one, and the stream's consumer must not see a status-less item: the record
    of the put that creates the item for an update is left out, in that thread only (the shard
    stays in place: the stream's readers run on other threads)."""
    from moto.dynamodb.models import DynamoDBBackend  # noqa: PLC0415
    from moto.dynamodb.models.table import StreamShard, Table  # noqa: PLC0415

    state = threading.local()
    update_item, put_item, add = DynamoDBBackend.update_item, Table.put_item, StreamShard.add

    def update_with_one_record(self: DynamoDBBackend, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN401
        state.updating = True
        try:
            return update_item(self, *args, **kwargs)
        finally:
            state.updating = False

    def put_without_record(self: Table, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN401
        state.silent = getattr(state, "updating", False)
        try:
            return put_item(self, *args, **kwargs)
        finally:
            state.silent = False

    def add_unless_silent(self: StreamShard, old: Any, new: Any) -> None:  # noqa: ANN401
        if not getattr(state, "silent", False):
            add(self, old, new)

    DynamoDBBackend.update_item = update_with_one_record  # type: ignore[method-assign]
    Table.put_item = put_without_record  # type: ignore[method-assign]
    StreamShard.add = add_unless_silent  # type: ignore[method-assign]


def _check_update_expressions_once() -> None:
    """moto checks an UpdateExpression's clause counts and overlapping paths at every node of its
    parse tree, a chain as long as the expression's actions, each check walking the chain below
    it: time in the square of the actions (a 15-attribute UpdateItem took 26 ms, most of a
    processor's write). The root's check sees every action, so it alone decides the same."""
    from moto.dynamodb.parsing.ast_nodes import (  # type: ignore[attr-defined]  # noqa: PLC0415
        DepthFirstTraverser,
    )
    from moto.dynamodb.parsing.expressions import (  # type: ignore[attr-defined]  # noqa: PLC0415
        UpdateExpressionParser,
    )
    from moto.dynamodb.parsing.validators import (  # noqa: PLC0415
        ActionCountValidator,
        OverlappingPathsValidator,
    )

    def at_the_root(self: DepthFirstTraverser, node: Any) -> Any:  # noqa: ANN401
        return self.process(node) if isinstance(node, self.nodes_to_be_processed()) else node

    for validator in (ActionCountValidator, OverlappingPathsValidator):
        validator.traverse = at_the_root
    # And it parses each expression twice per request; the processors send a few shapes only.
    # The parsed tree is only read (validation works on a deep copy of it), so it is shared.
    UpdateExpressionParser.make = functools.lru_cache(maxsize=512)(UpdateExpressionParser.make)


def _query_one_partition() -> None:
    """moto answers a table Query by sorting every item of the table and keeping the partition's:
    time in proportion to the table, on every read API request (a 5,000-number demo stored ever
    slower while the demo polled the campaign). Hand it the partition's items only; the rest of
    its Query (conditions, order, paging, filters) is unchanged. Index queries are left alone."""
    from moto.dynamodb.models.table import Table  # noqa: PLC0415

    query, all_items = Table.query, Table.all_items
    partition = threading.local()

    def query_one_partition(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN401
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        partition.key = None if index_name else hash_key
        try:
            return query(self, hash_key, *args, **kwargs)
        finally:
            partition.key = None

    def items_of_the_partition(self: Table) -> Any:  # noqa: ANN401
        key = getattr(partition, "key", None)
        if key is None:
            return all_items(self)
        stored = self.items.get(key) or {}
        return list(stored.values()) if self.range_key_attr else [stored]

    Table.query = query_one_partition  # type: ignore[method-assign]
    Table.all_items = items_of_the_partition  # type: ignore[method-assign]


def _serialise_dynamodb_requests() -> None:
    """moto's DynamoDB is not safe across its server's threads ("dictionary changed size during
    iteration" when a Query meets a write): one lock around every DynamoDB request. AWS needs
    no such thing."""
    from moto.dynamodb.responses import DynamoHandler  # noqa: PLC0415

    lock = threading.Lock()
    call_action = DynamoHandler.call_action

    def serialised(self: DynamoHandler) -> Any:  # noqa: ANN401
        with lock:
            return call_action(self)

    DynamoHandler.call_action = serialised  # type: ignore[method-assign]


def _list_moto_services_once() -> None:
    """moto's server finds which service a request is for while holding one lock for every
    request, and on the way lists its own package directory (a listdir and an isdir per
    service, about 200): 12% of a busy local stack's time (py-spy on a 1,500-number demo), and
    every request queued behind it. The package does not change while it runs: list it once."""
    from moto import backends  # noqa: PLC0415

    services = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = functools.cache(lambda: services)


def _count_queues_only_when_asked() -> None:
    """moto's SendMessage and ReceiveMessage read one or two attributes of a queue through the
    property that computes them all, three by walking every message (the approximate counts);
    ReceiveMessage does it three times for every message it looks at. A send cost time in
    proportion to the queue's backlog and a receive in proportion to its square (py-spy on a
    1,200-number demo: 39% of the samples in sends, 15% in receives). While a message is sent
    or received, that property answers only what those two read; GetQueueAttributes counts."""
    from moto.sqs.models import Queue, SQSBackend  # noqa: PLC0415

    in_flight = threading.local()
    every_attribute = Queue.attributes

    def attributes(queue: Queue) -> dict[str, Any]:
        if not getattr(in_flight, "active", False):
            return every_attribute.fget(queue)  # type: ignore[attr-defined, no-any-return]
        deduplicate = getattr(queue, "content_based_deduplication", False)  # set by name
        return {
            "ContentBasedDeduplication": str(deduplicate).lower(),
            "MessageRetentionPeriod": getattr(queue, "message_retention_period"),  # noqa: B009
        }

    def cheap(operation: Callable[..., Any]) -> Callable[..., Any]:
        def without_counting(self: SQSBackend, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN401
            in_flight.active = True
            try:
                return operation(self, *args, **kwargs)
            finally:
                in_flight.active = False

        return without_counting

    Queue.attributes = property(attributes)  # type: ignore[assignment, method-assign]
    SQSBackend.send_message = cheap(SQSBackend.send_message)  # type: ignore[method-assign]
    SQSBackend.receive_message = cheap(SQSBackend.receive_message)  # type: ignore[method-assign]


def _create_function_urls() -> None:
    """moto's CloudFormation has no AWS::Lambda::Url (its Lambda API has function URLs): give
    it one, so that a stack deployed with Ingress FunctionUrl has the receiver's URL and its
    outputs (`FunctionUrl`, `FunctionArn`) as AWS would."""
    from moto.awslambda.models import lambda_backends  # noqa: PLC0415
    from moto.cloudformation import parsing  # noqa: PLC0415
    from moto.core.common_models import CloudFormationModel  # noqa: PLC0415

    class FunctionUrl(CloudFormationModel):
        def __init__(self, url: str, function_arn: str) -> None:
            self.url, self.function_arn = url, function_arn

        @staticmethod
        def cloudformation_name_type() -> str:
            return ""

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::Lambda::Url"

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr in {"FunctionUrl", "FunctionArn"}

        @classmethod
        def create_from_cloudformation_json(
            cls,
            resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
            **kwargs: Any,  # noqa: ANN401 - moto's signature
        ) -> FunctionUrl:
            properties = cloudformation_json["Properties"]
            backend = lambda_backends[account_id][region_name]
            config = backend.create_function_url_config(
                properties["TargetFunctionArn"],
                {"AuthType": properties["AuthType"], "InvokeMode": properties.get("InvokeMode")},
            )
            # AWS's URL ends with "/"; moto's does not
            return cls(config.url.rstrip("/") + "/", config.function.function_arn)

        @property
        def physical_resource_id(self) -> str:
            return self.function_arn

        def get_cfn_attribute(self, attribute_name: str) -> str:
            return self.url if attribute_name == "FunctionUrl" else self.function_arn

    _MODELS.append(FunctionUrl)
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()


def _create_analytics_resources() -> None:
    """moto's CloudFormation has no Firehose delivery stream, Glue database or table, Athena
    workgroup or named query (their APIs it has): create them through those APIs, so a stack
    has its analytics dataset's objects as AWS would."""
    from moto.athena.models import athena_backends  # noqa: PLC0415
    from moto.cloudformation import parsing  # noqa: PLC0415
    from moto.core.common_models import CloudFormationModel  # noqa: PLC0415
    from moto.firehose.models import firehose_backends  # noqa: PLC0415
    from moto.glue.models import glue_backends  # noqa: PLC0415

    def model(
        resource_type: str, create: Callable[[str, dict[str, Any], str, str], tuple[str, str]]
    ) -> None:
        """A resource whose Ref is `create`'s first answer and whose Arn its second."""

        class Created(CloudFormationModel):
            def __init__(self, reference: str, arn: str) -> None:
                self.reference, self.arn = reference, arn

            @staticmethod
            def cloudformation_name_type() -> str:
                return ""

            @staticmethod
            def cloudformation_type() -> str:
                return resource_type

            @classmethod
            def has_cfn_attr(cls, attr: str) -> bool:
                return attr == "Arn"

            @classmethod
            def create_from_cloudformation_json(
                cls,
                resource_name: str,
                cloudformation_json: dict[str, Any],
                account_id: str,
                region_name: str,
                **kwargs: Any,  # noqa: ANN401 - moto's signature
            ) -> Any:  # noqa: ANN401 - moto's model type
                properties = cloudformation_json["Properties"]
                return cls(*create(resource_name, properties, account_id, region_name))

            @property
            def physical_resource_id(self) -> str:
                return self.reference

            def get_cfn_attribute(self, attribute_name: str) -> str:
                return self.arn

        # moto finds models among CloudFormationModel's subclasses, which Python holds weakly
        _MODELS.append(Created)

    def delivery_stream(
        name: str, properties: dict[str, Any], account: str, region: str
    ) -> tuple[str, str]:
        arn = firehose_backends[account][region].create_delivery_stream(
            region,
            name,
            properties.get("DeliveryStreamType", "DirectPut"),
            kinesis_stream_source_configuration={},
            delivery_stream_encryption_configuration_input=properties.get(
                "DeliveryStreamEncryptionConfigurationInput", {}
            ),
            s3_destination_configuration={},
            extended_s3_destination_configuration=properties["ExtendedS3DestinationConfiguration"],
            redshift_destination_configuration={},
            elasticsearch_destination_configuration={},
            splunk_destination_configuration={},
            http_endpoint_destination_configuration={},
            snowflake_destination_configuration={},
            iceberg_destination_configuration={},
            tags=[],
        )
        return name, arn

    def database(
        name: str, properties: dict[str, Any], account: str, region: str
    ) -> tuple[str, str]:
        given = properties["DatabaseInput"]
        glue_backends[account][region].create_database(given["Name"], given)
        return given["Name"], f"arn:aws:glue:{region}:{account}:database/{given['Name']}"

    def table(name: str, properties: dict[str, Any], account: str, region: str) -> tuple[str, str]:
        given = properties["TableInput"]
        glue_backends[account][region].create_table(
            properties["DatabaseName"], given["Name"], given
        )
        return given["Name"], f"arn:aws:glue:{region}:{account}:table/{given['Name']}"

    def work_group(
        name: str, properties: dict[str, Any], account: str, region: str
    ) -> tuple[str, str]:
        athena_backends[account][region].create_work_group(
            properties["Name"],
            properties.get("WorkGroupConfiguration", {}),
            properties.get("Description", ""),
            [],
        )
        return properties[
            "Name"
        ], f"arn:aws:athena:{region}:{account}:workgroup/{properties['Name']}"

    def named_query(
        name: str, properties: dict[str, Any], account: str, region: str
    ) -> tuple[str, str]:
        query_id = athena_backends[account][region].create_named_query(
            properties["Name"],
            properties.get("Description", ""),
            properties["Database"],
            properties["QueryString"],
            properties["WorkGroup"],
        )
        return query_id, query_id

    model("AWS::KinesisFirehose::DeliveryStream", delivery_stream)
    model("AWS::Glue::Database", database)
    model("AWS::Glue::Table", table)
    model("AWS::Athena::WorkGroup", work_group)
    model("AWS::Athena::NamedQuery", named_query)
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()


_FIREHOSE_TIMESTAMP = re.compile(r"!\{timestamp:([^}]*)\}")
_JAVA_DATE_PARTS = {"yyyy": "%Y", "MM": "%m", "dd": "%d", "HH": "%H", "mm": "%M", "ss": "%S"}


def _deliver_as_firehose_does() -> None:
    """moto's Firehose writes an S3 destination's records uncompressed, and appends YYYY/MM/DD/HH/
    to any prefix. Firehose evaluates a prefix's `!{timestamp:...}` expressions and then
    appends nothing, and gzips (adding `.gz`) when CompressionFormat is GZIP."""
    from moto.core.utils import utcnow  # noqa: PLC0415
    from moto.firehose.models import FirehoseBackend  # noqa: PLC0415
    from moto.moto_api._internal import mock_random  # noqa: PLC0415
    from moto.s3.models import s3_backends  # noqa: PLC0415

    def timestamp(match: re.Match[str], now: datetime) -> str:
        pattern = match.group(1)
        for java, python in _JAVA_DATE_PARTS.items():
            pattern = pattern.replace(java, python)
        return now.strftime(pattern)

    def put_s3_records(
        self: FirehoseBackend,
        delivery_stream_name: str,
        version_id: str,
        s3_destination: dict[str, Any],
        records: list[dict[str, bytes]],
    ) -> list[dict[str, str]]:
        now = utcnow()
        prefix = s3_destination.get("Prefix", "")
        if "!{" in prefix:
            prefix = _FIREHOSE_TIMESTAMP.sub(lambda m: timestamp(m, now), prefix)
        else:
            prefix = (prefix.rstrip("/") + "/" if prefix else "") + now.strftime("%Y/%m/%d/%H/")
        data = b"".join(record["Data"] for record in records)
        name = (
            f"{delivery_stream_name}-{version_id}-{now.strftime('%Y-%m-%d-%H-%M-%S')}-"
            f"{mock_random.uuid4()}"
        )
        if s3_destination.get("CompressionFormat") == "GZIP":
            data, name = gzip.compress(data), name + ".gz"
        bucket = s3_destination["BucketARN"].split(":")[-1]
        s3_backends[self.account_id][self.partition].put_object(bucket, prefix + name, data)
        return [{"RecordId": str(mock_random.uuid4())} for _ in records]

    FirehoseBackend.put_s3_records = put_s3_records  # type: ignore[method-assign]
