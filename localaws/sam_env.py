"""What `sam local` needs to run a function against `make local`'s stack: each function's
environment as that stack has it, plus AWS_ENDPOINT_URL, its emulated AWS (the template declares
that variable only through its LocalAwsEndpoint parameter, which is empty in AWS). ops/sam_env.py
writes it for `make sam-env`; localaws/sam_local.py for `make sam-local-check`."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from localaws.emulation import REGION, attach, emulated_account_environment
from localaws.template import Template


@dataclass(frozen=True)
class SamEnvironment:
    variables: dict[str, dict[str, str]]  # function logical id -> its variables
    region: str
    warning: str | None = None  # why a container may not reach the stack

    def write(self, path: Path) -> None:
        """An --env-vars file: the variables of each function, by logical id."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.variables, indent=2, sort_keys=True) + "\n")


def local_sam_environment(template: Template, endpoint: str) -> SamEnvironment:
    with emulated_account_environment():  # the local stack's region and stand-in keys
        deployment = attach(template, endpoint)
    variables = {
        name: {**function.environment, "AWS_ENDPOINT_URL": endpoint}
        for name, function in sorted(deployment.functions.items())
    }
    return SamEnvironment(variables, REGION, _unreachable_from_containers(endpoint))


def _unreachable_from_containers(endpoint: str) -> str | None:
    host = urlsplit(endpoint).hostname or ""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        return None
    return (
        f"the local stack's AWS ({endpoint}) listens on loopback, which SAM's containers "
        "cannot reach: start it with `make local BIND_ADDRESS=<Docker's bridge gateway>` "
        "(172.17.0.1 on most Linux hosts), then run make sam-env LOCAL=1 again"
    )
