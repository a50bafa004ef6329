"""Which deployment an operations command acts on: a stack in AWS (by samconfig.toml's
environment, or by name), or the stack `make local` is running (its state file)."""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import boto3

from exotel_webhooks.ledger.table import CampaignTable
from exotel_webhooks.settings import NormalisationRules
from localaws.emulation import LOCAL_STATE
from localaws.template import PROJECT_ROOT, Template

SAMCONFIG = PROJECT_ROOT / "samconfig.toml"


class TargetError(Exception):
    """The deployment cannot be found or reached."""


@dataclass
class Target:
    stack_name: str
    region: str
    endpoint: str | None = None  # the local stack's emulated AWS
    local_base_url: str | None = None
    local_tokens: tuple[str, ...] = ()
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_samconfig(
        cls, config_env: str = "default", stack_name: str | None = None, path: Path = SAMCONFIG
    ) -> Target:
        """The stack `sam deploy --config-env <config_env>` deploys: its deploy parameters
        first (where `sam deploy --guided` saves a renamed stack), then its global ones."""
        config = tomllib.loads(path.read_text()).get(config_env, {})
        parameters = {
            **config.get("global", {}).get("parameters", {}),
            **config.get("deploy", {}).get("parameters", {}),
        }
        if "stack_name" not in parameters and not stack_name:
            raise TargetError(f"samconfig.toml names no stack for [{config_env}]")
        region = parameters.get("region") or os.environ.get("AWS_REGION") or "ap-south-1"
        return cls(stack_name or parameters["stack_name"], region)

    @classmethod
    def local(cls, state_file: Path = LOCAL_STATE) -> Target:
        if not state_file.exists():
            raise TargetError(f"no local stack is running ({state_file} not found): make local")
        state = json.loads(state_file.read_text())
        return cls(
            state["stack_name"],
            state["region"],
            endpoint=state["endpoint"],
            local_base_url=state["base_url"],
            local_tokens=tuple(state["tokens"]),
        )

    def client(self, service: str) -> Any:  # noqa: ANN401 - each service's client type
        if service not in self._clients:
            options: dict[str, Any] = {"region_name": self.region}
            if self.endpoint:
                options |= {
                    "endpoint_url": self.endpoint,
                    "aws_access_key_id": "testing",
                    "aws_secret_access_key": "testing",  # the emulator takes any key
                }
            self._clients[service] = boto3.client(service, **options)  # type: ignore[call-overload]
        return self._clients[service]

    @cached_property
    def resources(self) -> dict[str, str]:
        """Logical id -> physical id of every resource of the stack."""
        paginator = self.client("cloudformation").get_paginator("list_stack_resources")
        try:
            pages = list(paginator.paginate(StackName=self.stack_name))
        except Exception as error:
            raise TargetError(f"stack {self.stack_name} in {self.region}: {error}") from error
        return {
            summary["LogicalResourceId"]: summary["PhysicalResourceId"]
            for page in pages
            for summary in page["StackResourceSummaries"]
            if summary.get("PhysicalResourceId")
        }

    @cached_property
    def outputs(self) -> dict[str, str]:
        stacks = self.client("cloudformation").describe_stacks(StackName=self.stack_name)
        return {o["OutputKey"]: o["OutputValue"] for o in stacks["Stacks"][0].get("Outputs", [])}

    @cached_property
    def stack_id(self) -> str:
        """The stack's id: the key its functions hash numbers with (NUMBER_HASH_KEY)."""
        stacks = self.client("cloudformation").describe_stacks(StackName=self.stack_name)
        return str(stacks["Stacks"][0]["StackId"])

    def campaign_table(self) -> CampaignTable:
        """The stack's campaign table, hashing numbers as its functions do."""
        return CampaignTable(
            self.client("dynamodb"), self.physical_id("CampaignTable"), hash_key=self.stack_id
        )

    @cached_property
    def parameters(self) -> dict[str, str]:
        """The stack's template parameters, as deployed."""
        stacks = self.client("cloudformation").describe_stacks(StackName=self.stack_name)
        return {
            p["ParameterKey"]: p.get("ParameterValue", "")
            for p in stacks["Stacks"][0].get("Parameters", [])
        }

    def parameter(self, name: str) -> str:
        """A template parameter as the stack was deployed with it, else its default."""
        return self.parameters.get(name) or str(Template.load().parameter(name).get("Default", ""))

    @cached_property
    def rules(self) -> NormalisationRules:
        """How the stack's functions read numbers and zone-less times (its DefaultPhoneRegion
        and LocalTimezone): every operations command reads them the same way."""
        return NormalisationRules.from_environment(
            {
                "LOCAL_TIMEZONE": self.parameter("LocalTimezone"),
                "DEFAULT_PHONE_REGION": self.parameter("DefaultPhoneRegion"),
                "CALL_PRICE_CURRENCY": self.parameter("CallPriceCurrency"),
            }
        )

    def physical_id(self, logical_id: str) -> str:
        try:
            return self.resources[logical_id]
        except KeyError:
            known = ", ".join(sorted(self.resources))
            raise TargetError(f"{logical_id} is not in stack {self.stack_name} ({known})") from None

    def webhook_base_url(self) -> str:
        return self.local_base_url or self.outputs["WebhookBaseUrl"]

    def webhook_token(self) -> str:
        """The current token: what Exotel sends, read from Secrets Manager (or the local state)."""
        if self.local_tokens:
            return self.local_tokens[0]
        secret = self.client("secretsmanager").get_secret_value(
            SecretId=self.outputs["WebhookSecretArn"]
        )
        token: str = json.loads(secret["SecretString"])["token"]
        return token
