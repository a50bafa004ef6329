"""Least privilege in what `sam deploy` creates, and the dependency audit's gate."""

from __future__ import annotations

import ast
import fnmatch
import importlib.metadata
import importlib.util
import itertools
import json
import sys
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from exotel_webhooks.ledger.precedence import utc_text
from localaws.emulation import REGION, STACK_NAME
from localaws.template import PROJECT_ROOT
from ops.erase import erase_number
from ops.target import Target
from tests.stack.test_faults import CAMPAIGN, REPORT, campaign, send_like_exotel
from tests.support.pipeline import FUNCTIONS, Pipeline
from tests.support.report_server import ReportServer, Route
from tests.support.stack import AwsCalls

# Statements whose "*" is the narrowest AWS allows, each with why.
WILDCARD_ALLOWED = {
    # A key policy's Resource "*" means "this key"; the account root administers it (AWS's
    # default key policy, without which the key becomes unmanageable).
    ("OperationsKey", "AccountAdministers"),
    ("OperationsKey", "CloudWatchPublishesAlarms"),
    ("OperationsKey", "CloudWatchLogsEncryptsThisStacksLogGroups"),
}
# The only AWS managed policies: AWSLambdaBasicExecutionRole (writing the function's own log
# stream, which AWS names at run time) and AWSXrayWriteOnlyAccess (X-Ray has no resource-level
# permissions). Not AWSLambdaSQSQueueExecutionRole, which SAM adds for an SQS trigger and which
# reads every queue: the queue consumers have roles of their own.
MANAGED_POLICIES = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
    "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "arn:${AWS::Partition}:iam::aws:policy/AWSXrayWriteOnlyAccess",
}


def allow_statements(cloudformation: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(resource, statement id or index, statement) of every Allow in every IAM role, policy and
    key policy of the deployed template."""
    for logical_id, resource in cloudformation["Resources"].items():
        properties = resource.get("Properties", {})
        documents = [policy["PolicyDocument"] for policy in properties.get("Policies", [])]
        documents += [properties[k] for k in ("PolicyDocument", "KeyPolicy") if k in properties]
        if resource["Type"] in ("AWS::SQS::QueuePolicy", "AWS::S3::BucketPolicy"):
            continue  # resource policies: ours only deny
        for document in documents:
            for index, statement in enumerate(document["Statement"]):
                if statement["Effect"] == "Allow":
                    yield logical_id, statement.get("Sid", str(index)), statement


def as_list(value: object) -> list[object]:
    return value if isinstance(value, list) else [value]


def test_no_allow_statement_grants_every_action_or_resource(cloudformation: dict[str, Any]) -> None:
    found = []
    for logical_id, sid, statement in allow_statements(cloudformation):
        actions = as_list(statement.get("Action", []))
        resources = as_list(statement.get("Resource", []))
        wildcard = any(a == "*" or str(a).endswith(":*") for a in actions) or "*" in resources
        if wildcard and (logical_id, sid) not in WILDCARD_ALLOWED:
            found.append((logical_id, sid, actions, resources))
    assert found == []


def test_the_only_managed_policies_are_aws_basics(cloudformation: dict[str, Any]) -> None:
    attached = set()
    for resource in cloudformation["Resources"].values():
        for arn in resource.get("Properties", {}).get("ManagedPolicyArns", []):
            attached.add(arn["Fn::Sub"] if isinstance(arn, dict) else arn)
    assert attached <= MANAGED_POLICIES


def test_every_function_role_is_its_own(cloudformation: dict[str, Any]) -> None:
    functions = {
        logical_id: resource["Properties"]["Role"]
        for logical_id, resource in cloudformation["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Function"
    }
    roles = [role["Fn::GetAtt"][0] for role in functions.values()]
    assert len(set(roles)) == len(functions) == 13


def test_the_security_scan_runs_in_make_test() -> None:
    # Given the test target: its prerequisites and its recipe (the checks run as a sub-make)
    lines = (PROJECT_ROOT / "Makefile").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("test:"))
    recipe = [lines[start].split("##")[0]]
    recipe += itertools.takewhile(lambda line: line.startswith("\t"), lines[start + 1 :])
    # Then the security scans are among what it runs
    assert "security" in " ".join(recipe).split()
    assert Path(PROJECT_ROOT / "tools/requirements-security.txt").exists()


# Provided by the Lambda runtime (AWS keeps them patched): boto3 and what it needs to talk to AWS.
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer"}


def test_every_third_party_module_the_layer_imports_is_pinned_in_its_requirements() -> None:
    # Given the modules the shared package and the handlers import
    sources = [*(PROJECT_ROOT / "src/exotel_webhooks").rglob("*.py")]
    sources += [*(PROJECT_ROOT / "functions").glob("*/*.py")]
    imported: set[str] = set()
    for source in sources:
        tree = ast.parse(source.read_text())
        typing_only = {
            id(child)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING"
            for child in ast.walk(node)
        }
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module.split(".")[0])
    third_party = {
        name
        for name in imported
        if name not in sys.stdlib_module_names and name != "exotel_webhooks"
    }
    distributions = importlib.metadata.packages_distributions()

    # When they are mapped to their distributions
    needed = {
        distribution.lower().replace("_", "-")
        for name in third_party
        for distribution in distributions[name]
    } - RUNTIME_PROVIDED

    # Then each is pinned (with hashes) in the layer's locked requirements: production runs the
    # audited versions, not whatever the runtime bundles
    pinned = {
        line.split("==")[0].strip().lower()
        for line in (PROJECT_ROOT / "layers/common/requirements.txt").read_text().splitlines()
        if "==" in line
    }
    assert "urllib3" in needed
    assert needed <= pinned, needed - pinned


# botocore's operation -> the IAM action that authorises it, where the names differ.
IAM_ACTION_OF = {
    "secrets-manager": "secretsmanager",
    "eventbridge": "events",
    "s3:CreateMultipartUpload": "s3:PutObject",
    "s3:UploadPart": "s3:PutObject",
    "s3:CompleteMultipartUpload": "s3:PutObject",
    "s3:HeadObject": "s3:GetObject",
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:ListObjectVersions": "s3:ListBucketVersions",
    "sqs:SendMessageBatch": "sqs:SendMessage",  # IAM has no action of its own for it
}


def allowed_actions(cloudformation: dict[str, Any], function: str) -> set[str]:
    """Every action an Allow statement of the function's role grants (wildcards as written)."""
    resources = cloudformation["Resources"]
    role = resources[function]["Properties"]["Role"]["Fn::GetAtt"][0]
    actions: set[str] = set()
    attached = [  # policies of their own attached to the role (a condition's rights)
        resource["Properties"]
        for resource in resources.values()
        if resource["Type"] == "AWS::IAM::Policy"
        and {"Ref": role} in resource["Properties"]["Roles"]
    ]
    for policy in [*resources[role]["Properties"].get("Policies", []), *attached]:
        for statement in policy["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Allow":
                granted = statement["Action"]
                actions |= {granted} if isinstance(granted, str) else set(granted)
    return actions


def iam_actions(service: str, operation: str, params: dict[str, Any]) -> set[str]:
    """A transaction is authorised action by action (there is no TransactWriteItems action)."""
    if operation == "TransactWriteItems":
        return {
            f"dynamodb:{'ConditionCheckItem' if kind == 'ConditionCheck' else kind + 'Item'}"
            for entry in params["TransactItems"]
            for kind in entry
        }
    if operation == "DeleteObject" and params.get("VersionId"):
        return {"s3:DeleteObjectVersion"}
    action = f"{IAM_ACTION_OF.get(service, service)}:{operation}"
    return {IAM_ACTION_OF.get(action, action)}


@pytest.mark.enable_socket
@pytest.mark.stack_parameters(CallDetails="true", KeepRecordings="true")
def test_every_aws_call_a_function_makes_is_allowed_by_its_own_role(
    cloudformation: dict[str, Any],
    pipeline: Pipeline,
    aws_calls: AwsCalls,
    report_server: ReportServer,
) -> None:
    # Given every function fed a campaign (a quarantine, a report, a masked subscriber too),
    # each AWS call credited to the function that made it
    report_server.routes["/report.csv"] = Route(body=REPORT)
    calls = {"Calls": [{"Call": {"Sid": "call_lost", "Status": "no-answer", "Duration": "0",
                                 "Price": "0.0",
                                 "RecordingUrl": report_server.url("/r.mp3")}}]}  # fmt: skip
    report_server.routes["/r.mp3"] = Route(body=b"ID3", content_type="audio/mpeg")
    report_server.routes["/v1/Accounts/demo-account/Calls.json"] = Route(
        body=json.dumps(calls).encode(), content_type="application/json"
    )
    made: dict[str, set[str]] = defaultdict(set)
    invoke = pipeline.invoke

    def credited(function: str, event: dict[str, Any]) -> Any:
        start = len(aws_calls.calls)
        try:
            return invoke(function, event)
        finally:
            for service, operation, params in aws_calls.calls[start:]:
                made[function] |= iam_actions(service, operation, params)

    pipeline.invoke = credited  # type: ignore[method-assign]

    # When the campaign is sent, consumed and read
    send_like_exotel(pipeline, campaign(report_server.url("/report.csv")))
    masked = {"campaign_sid": CAMPAIGN, "to": "0XXXXXX4890", "status": "failed",
              "call_sids": ["call_m1", "call_m2"], "date_updated": "2026-11-26T10:30Z"}  # fmt: skip
    pipeline.send("call-schedule", masked)
    pipeline.drain()
    lost = {"call_sid": "call_lost", "number": "+919812345678", "status": "no-answer",
            "date_created": "2026-11-26T10:00:00+05:30"}  # fmt: skip
    assert pipeline.sweep(CAMPAIGN, [lost])["failed"] == []
    pipeline.drain()
    # ... and a subscriber erased, whose callback then comes again (every door checks it)
    erase_number(Target(STACK_NAME, REGION), "+919812345678", CAMPAIGN)
    pipeline.drain()
    assert pipeline.sweep(CAMPAIGN, [lost])["failed"] == []
    pipeline.drain()
    # ... and a campaign whose callbacks stopped two hours ago, announced by the silence watch
    hours_ago = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)
    Target(STACK_NAME, REGION).campaign_table().note_heard(
        "camp_silent", "shard-1", str(utc_text(hours_ago))
    )
    scheduled = json.loads((PROJECT_ROOT / "events/silence_watch/scheduled.json").read_text())
    assert pipeline.invoke("SilenceWatchFunction", scheduled) == {"silent": ["camp_silent"]}
    for path in (
        f"/campaigns/{CAMPAIGN}",
        f"/campaigns/{CAMPAIGN}/calls",
        f"/campaigns/{CAMPAIGN}/numbers/{quote('0XXXXXX4890@call_m1')}",
    ):
        pipeline.get(path)

    # Then each call is one its role allows, as IAM would check it in AWS
    assert set(made) == set(FUNCTIONS)
    for function, actions in made.items():
        allowed = allowed_actions(cloudformation, function)
        refused = {a for a in actions if not any(fnmatch.fnmatchcase(a, p) for p in allowed)}
        assert not refused, f"{function} is not allowed {sorted(refused)}"
