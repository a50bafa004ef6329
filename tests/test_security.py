"""Least privilege in what `sam deploy` creates, and the dependency audit's gate."""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from localaws.template import PROJECT_ROOT

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
    assert len(set(roles)) == len(functions) == 6


def _audit_module() -> Any:
    spec = importlib.util.spec_from_file_location("audit", PROJECT_ROOT / "tools/audit.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["audit"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_audit_fails_on_a_known_vulnerability_and_counts_what_it_could_not_check() -> None:
    audit_module = _audit_module()
    clean = {"dependencies": [{"name": "six", "version": "1.17.0", "vulns": []}]}
    vulnerable = {
        "dependencies": [
            {
                "name": "urllib3",
                "version": "1.0",
                "vulns": [{"id": "GHSA-x", "fix_versions": ["2"]}],
            }
        ]
    }
    unanswered = {"dependencies": [{"name": "rare", "skip_reason": "not found"}]}

    def verdict(*reports: dict[str, Any], strict: bool = False) -> int:
        audit = audit_module.Audit()
        for report in reports:
            audit.add(report)
        code: int = audit.verdict(strict)
        return code

    assert verdict(clean) == 0
    assert verdict(clean, vulnerable) == 1
    assert verdict(clean, unanswered) == 0
    assert verdict(clean, unanswered, strict=True) == 1


def test_the_security_scan_runs_in_make_test() -> None:
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    test_target = next(line for line in makefile.splitlines() if line.startswith("test:"))
    assert "security" in test_target.split("##")[0]
    assert Path(PROJECT_ROOT / "tools/requirements-security.txt").exists()


# Provided by the Lambda runtime (AWS keeps them patched): boto3 and what it needs to talk to AWS.
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer"}


def test_every_third_party_module_the_layer_imports_is_pinned_in_its_requirements() -> None:
    # Given the modules the shared package and the handlers import
    sources = [*(PROJECT_ROOT / "layers/common/exotel_webhooks").glob("*.py")]
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
