"""Read template.yaml and turn it into plain CloudFormation, the way `sam deploy` would."""

from __future__ import annotations

import copy
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = PROJECT_ROOT / "template.yaml"

# SAM resource property that points at local code, by resource type.
_LOCAL_CODE_PROPERTY = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
}


@dataclass(frozen=True)
class LocalCode:
    """A function's or layer's code directory, and the S3 object that stands in for it."""

    logical_id: str
    directory: Path
    s3_key: str


@dataclass(frozen=True)
class Template:
    sam: dict[str, Any]
    # translations already made (the stack tier deploys this template hundreds of times)
    _translated: dict[tuple[str, ...], str] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @classmethod
    def load(cls, path: Path = TEMPLATE_PATH) -> Template:
        return cls(yaml_parse(path.read_text()))

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        resources: dict[str, dict[str, Any]] = self.sam["Resources"]
        return resources

    def parameter(self, name: str) -> dict[str, Any]:
        """A template parameter's declaration (`Default`, `AllowedValues`, ...)."""
        declaration: dict[str, Any] = self.sam["Parameters"][name]
        return declaration

    def resources_of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == resource_type}

    def local_code(self) -> list[LocalCode]:
        return [
            LocalCode(logical_id, PROJECT_ROOT / resource["Properties"][prop], f"{logical_id}.zip")
            for logical_id, resource in self.resources.items()
            if (prop := _LOCAL_CODE_PROPERTY.get(resource["Type"]))
        ]

    def function_code_directory(self, logical_id: str) -> Path:
        code_uri: str = self.resources[logical_id]["Properties"]["CodeUri"]
        return PROJECT_ROOT / code_uri

    def log_group_of(self, function: str) -> str:
        """The logical id of the log group a function logs to (its LoggingConfig)."""
        group: str = self.resources[function]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        return group

    def to_cloudformation(self, code_bucket: str, parameters: dict[str, str]) -> dict[str, Any]:
        """Translate SAM to CloudFormation with local code swapped for objects in `code_bucket`
        (a fresh copy each time: callers may change it)."""
        region = os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or ""
        key = (code_bucket, region, json.dumps(parameters, sort_keys=True))
        if key not in self._translated:
            self._translated[key] = json.dumps(self._translate(code_bucket, parameters))
        translated: dict[str, Any] = json.loads(self._translated[key])
        return translated

    def _translate(self, code_bucket: str, parameters: dict[str, str]) -> dict[str, Any]:
        sam = copy.deepcopy(self.sam)
        for code in self.local_code():
            prop = _LOCAL_CODE_PROPERTY[sam["Resources"][code.logical_id]["Type"]]
            sam["Resources"][code.logical_id]["Properties"][prop] = (
                f"s3://{code_bucket}/{code.s3_key}"
            )
        cloudformation: dict[str, Any] = transform(sam, dict(parameters), _NoManagedPolicies())
        return cloudformation


class _NoManagedPolicies:
    """Stands in for samtranslator's ManagedPolicyLoader, which asks IAM: the template names no
    AWS managed policy by name, so nothing needs looking up."""

    def load(self) -> dict[str, str]:
        return {}


def main() -> None:
    """`python -m localaws.template OUT.json`: the CloudFormation `sam deploy` would create (what
    the security scan reads: SAM's generated roles and permissions included)."""
    os.environ.setdefault("AWS_DEFAULT_REGION", "ap-south-1")  # samtranslator needs a region
    out = Path(sys.argv[1])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(Template.load().to_cloudformation("code-bucket", {}), indent=1))


if __name__ == "__main__":
    main()
