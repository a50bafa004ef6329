"""`make invoke FN=<LogicalId> EVENT=<file>`: `sam local invoke` without Docker.

The function runs in this process with its environment from template.yaml and its AWS
resources in an embedded emulation (moto), deployed afresh; with --local (LOCAL=1) in the
stack `make local` runs, with its data. The handler's return value is printed as JSON on
stdout; logs go to stderr. EVENT=- reads the event from standard input.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path

from localaws.emulation import (
    DEFAULT_WEBHOOK_TOKEN,
    LOCAL_STATE,
    Deployment,
    attach,
    deploy,
    emulated_account_environment,
)
from localaws.runtime import LocalLambdaContext, function_environment, load_handler
from localaws.template import Template


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make invoke", description=__doc__)
    parser.add_argument("function", help="logical id of the function in template.yaml")
    parser.add_argument("event", help="event JSON file, or - for standard input")
    parser.add_argument("--local", action="store_true", help="in the stack `make local` runs")
    parser.add_argument("--state", type=Path, default=LOCAL_STATE, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    template = Template.load()
    functions = template.resources_of_type("AWS::Serverless::Function")
    if args.function not in functions:
        parser.error(f"no function {args.function!r} in template.yaml; one of {sorted(functions)}")
    try:
        event = _read_event(args.event)
    except EventError as error:
        print(f"make invoke: {error}", file=sys.stderr)
        return 2
    stdout = sys.stdout
    if args.local:
        if not args.state.exists():
            print(
                f"make invoke: no local stack is running ({args.state} not found): make local",
                file=sys.stderr,
            )
            return 2
        endpoint = json.loads(args.state.read_text())["endpoint"]
        os.environ["AWS_ENDPOINT_URL"] = endpoint  # every client the function creates
        with emulated_account_environment(), contextlib.redirect_stdout(sys.stderr):
            result = _invoke(template, attach(template, endpoint), args.function, event)
    else:
        tokens = tuple(os.environ.get("WEBHOOK_TOKEN", DEFAULT_WEBHOOK_TOKEN).split(","))
        from moto import mock_aws  # noqa: PLC0415 - imported late so --help stays fast

        with emulated_account_environment(), mock_aws(), contextlib.redirect_stdout(sys.stderr):
            result = _invoke(
                template, deploy(template, webhook_tokens=tokens), args.function, event
            )
    json.dump(result, stdout, indent=2)
    stdout.write("\n")
    return 0


def _invoke(template: Template, deployment: Deployment, function: str, event: object) -> object:
    os.environ.update(function_environment(deployment, function))
    handler = load_handler(template, deployment, function)
    timeout = deployment.functions[function].timeout_seconds
    return handler(
        event, LocalLambdaContext(deployment.physical_id(function), timeout_seconds=timeout)
    )


class EventError(Exception):
    """The event cannot be read: one line says why, instead of a traceback."""


def _read_event(source: str) -> object:
    where = "standard input" if source == "-" else source
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise EventError(f"no event file {source} (samples: events/<function>/*.json)") from error
    except (OSError, UnicodeDecodeError) as error:
        raise EventError(f"cannot read {where}: {error}") from error
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise EventError(f"{where} is not JSON: {error}") from error


if __name__ == "__main__":
    sys.exit(main())
