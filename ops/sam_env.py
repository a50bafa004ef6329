"""`make sam-env`: an `--env-vars` file for `sam local invoke` / `sam local start-api`, so the
functions run in SAM's containers against a stack's resources (docs/operations.md, "sam local").

SAM hands a function only the variables its template declares (and AWS credentials and region),
filled from this file: each function's environment as the stack has it (make local's:
localaws/sam_env.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from localaws.sam_env import SamEnvironment, local_sam_environment
from localaws.template import Template
from ops.target import Target

DEFAULT_PATH = Path(".tools/tmp/sam-env.json")


def sam_environment(target: Target, template: Template) -> SamEnvironment:
    if target.endpoint:
        return local_sam_environment(template, target.endpoint)
    client = target.client("lambda")
    variables = {}
    for name in sorted(template.resources_of_type("AWS::Serverless::Function")):
        if name not in target.resources:  # a function whose condition is false
            continue
        configuration: dict[str, Any] = client.get_function_configuration(
            FunctionName=target.physical_id(name)
        )
        variables[name] = dict(configuration.get("Environment", {}).get("Variables", {}))
    return SamEnvironment(variables, target.region)


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
