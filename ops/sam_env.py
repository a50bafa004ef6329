"""`make sam-env`: an `--env-vars` file for `sam local invoke` / `sam local start-api`, so the
functions run in SAM's containers against a stack's resources (docs/operations.md, "sam local").

SAM hands a function only the variables its template declares (and AWS credentials and region),
filled from this file: each function's environment as the stack has it. For `make local`'s stack
it adds AWS_ENDPOINT_URL, its emulated AWS: the template declares that variable only through the
LocalAwsEndpoint parameter, which is empty in AWS.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from localaws.emulation import attach, emulated_account_environment
from localaws.template import Template
from ops.target import Target

DEFAULT_PATH = Path(".tools/tmp/sam-env.json")


@dataclass(frozen=True)
class SamEnvironment:
    variables: dict[str, dict[str, str]]  # function logical id -> its variables
    region: str
    warning: str | None = None  # why a container may not reach the stack

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.variables, indent=2, sort_keys=True) + "\n")


def sam_environment(target: Target, template: Template) -> SamEnvironment:
    functions = sorted(template.resources_of_type("AWS::Serverless::Function"))
    if target.endpoint:  # make local's stack: its functions' environments, and its endpoint
        with emulated_account_environment():  # the local stack's region and stand-in keys
            deployment = attach(template, target.endpoint)
        variables = {
            name: {**deployment.functions[name].environment, "AWS_ENDPOINT_URL": target.endpoint}
            for name in functions
            if name in deployment.functions
        }
        return SamEnvironment(variables, target.region, _unreachable_from_containers(target))
    client = target.client("lambda")
    variables = {}
    for name in functions:
        if name not in target.resources:  # a function whose condition is false
            continue
        configuration: dict[str, Any] = client.get_function_configuration(
            FunctionName=target.physical_id(name)
        )
        variables[name] = dict(configuration.get("Environment", {}).get("Variables", {}))
    return SamEnvironment(variables, target.region)


def _unreachable_from_containers(target: Target) -> str | None:
    host = urlsplit(target.endpoint or "").hostname or ""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        return None
    return (
        f"the local stack's AWS ({target.endpoint}) listens on loopback, which SAM's containers "
        "cannot reach: start it with `make local BIND_ADDRESS=<docker bridge gateway>` "
        "(docker network inspect bridge --format '{{(index .IPAM.Config 0).Gateway}}'), "
        "then run make sam-env LOCAL=1 again"
    )


def usage(environment: SamEnvironment, path: Path) -> list[str]:
    """The commands that use the file, as printed after writing it."""
    region = f" --region {environment.region}"
    return [
        f"sam local invoke ReceiverFunction -e events/receiver/call-status.json "
        f"--env-vars {path}{region}",
        f"sam local invoke ReadApiFunction -e events/read_api/get-campaign.json "
        f"--env-vars {path}{region}",
        f"sam local start-api --env-vars {path}{region}",
    ]
