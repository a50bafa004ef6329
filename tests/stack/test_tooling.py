"""The Docker-free invoke, and the layer shipping exactly the versions tested here."""

from __future__ import annotations

import ast
import json
import os
import re
import socket
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from moto import mock_aws

from localaws.emulation import deploy, emulated_account_environment
from localaws.runtime import function_environment
from localaws.template import PROJECT_ROOT, Template

INVOKE = [sys.executable, "-m", "localaws.invoke", "ReceiverFunction"]


def run(
    arguments: list[str], stdin: str | None = None, **environment: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own module, fixed arguments
        arguments,
        input=stdin,
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env={**os.environ, **environment},
        timeout=120,
        check=False,
    )


def test_make_invoke_prints_the_handler_result_on_stdout_and_logs_on_stderr() -> None:
    # Given the documented command on a valid call-status sample
    result = run(
        ["make", "-s", "invoke", "FN=ReceiverFunction", "EVENT=events/receiver/call-status.json"]
    )

    # Then stdout is exactly the handler's return value as JSON, and the logs are on stderr
    assert result.returncode == 0, result.stderr
    response = json.loads(result.stdout)
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["status"] == "accepted"
    assert '"message":"webhook accepted"' in result.stderr


def test_invoke_reads_the_event_from_stdin() -> None:
    event = (PROJECT_ROOT / "events/receiver/call-status-pascal-case.json").read_text()
    result = run([*INVOKE, "-"], stdin=event)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["statusCode"] == 200


def test_invoke_uses_webhook_token_as_the_secret() -> None:
    # Given a local secret other than the one the sample carries
    result = run([*INVOKE, "events/receiver/call-status.json"], WEBHOOK_TOKEN="another-token")

    # Then the sample is refused
    assert json.loads(result.stdout)["statusCode"] == 401


def test_invoke_names_the_functions_when_given_an_unknown_one() -> None:
    result = run([sys.executable, "-m", "localaws.invoke", "NoSuchFunction", "-"], stdin="{}")
    assert result.returncode == 2
    assert "ReceiverFunction" in result.stderr


def test_make_invoke_without_a_function_lists_the_functions() -> None:
    result = run(["make", "-s", "invoke"])
    assert result.returncode != 0
    assert "FN is one of:" in result.stdout
    assert "LedgerStreamFunction" in result.stdout


def test_an_event_that_cannot_be_read_gets_one_line_saying_why(tmp_path: Path) -> None:
    # Given a missing file, a file that is not JSON, and a file that is not text
    not_json, not_text = tmp_path / "event.json", tmp_path / "event.bin"
    not_json.write_text("{not json")
    not_text.write_bytes(b"\xff\xfe\x00")
    cases = {
        "events/receiver/no-such-sample.json": "no event file",
        str(not_json): "is not JSON",
        str(not_text): "cannot read",
    }
    for path, reason in cases.items():
        # When make invoke is given it
        result = run([*INVOKE, path])

        # Then it exits 2 with one line saying why, and no traceback
        assert result.returncode == 2, path
        assert reason in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_layer_requirements_pin_the_versions_the_tests_run_with() -> None:
    requirements = (PROJECT_ROOT / "layers/common/requirements.txt").read_text()
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==([^\s\\]+)", requirements, re.MULTILINE))
    assert {"aws-lambda-powertools", "pydantic", "phonenumberslite"} <= set(pins)
    for package, pinned in pins.items():
        assert version(package) == pinned, package


def test_the_emulation_never_imports_the_operations_commands() -> None:
    # ops acts on a stack, local or in AWS, and may use localaws; never the other way round
    importers = []
    for path in sorted((PROJECT_ROOT / "localaws").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            importers += [path.name for name in names if name.split(".")[0] == "ops"]
    assert importers == []


@pytest.mark.enable_socket
def test_make_demo_plays_against_the_stack_make_local_runs(tmp_path: Path) -> None:
    from localaws.demo import running_stack  # noqa: PLC0415 - the module starts nothing

    state = tmp_path / "stack.json"
    # Given no state file, the demo starts its own stack
    assert running_stack(None, "default-token", state) == (None, "default-token")

    # Given the state file of a stack that listens, the demo uses it and its token
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        base = f"http://127.0.0.1:{listening.getsockname()[1]}"
        state.write_text(json.dumps({"base_url": base, "tokens": ["its-token"]}))
        assert running_stack(None, "default-token", state) == (base, "its-token")

    # Given the same file once that stack has stopped, it starts its own again
    assert running_stack(None, "default-token", state) == (None, "default-token")
    # And BASE_URL always wins
    assert running_stack("http://x:1", "t", state) == ("http://x:1", "t")


@pytest.mark.parametrize(
    "entry_point", ["localaws.stack", "localaws.demo", "localaws.sam_local", "localaws.invoke"]
)
def test_the_emulations_entry_points_load_the_functions_settings_first(
    entry_point: str,
) -> None:
    # Given a command that starts a local stack: the package's metrics and logger
    # (observability.py) read their settings (POWERTOOLS_*) when first imported, which the stack
    # sets per function before loading it; imported earlier, every invocation's metrics flush
    # fails and every record comes back for ever (make demo did, for one commit)
    probe = f"import sys, {entry_point}; print('exotel_webhooks.observability' in sys.modules)"

    # When the command's module is imported in a fresh interpreter
    result = run([sys.executable, "-c", probe])

    # Then the package's observability is not loaded yet
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("log_level", ["INFO", "WARNING"])
def test_powertools_and_lambdas_log_filter_agree_on_the_level(
    template: Template, log_level: str
) -> None:
    # Given the stack deployed at a LogLevel, and the receiver's environment as Lambda gives it
    # (with the AWS_LAMBDA_LOG_LEVEL its LoggingConfig sets)
    with emulated_account_environment(), mock_aws():
        deployment = deploy(template, parameters={"LogLevel": log_level})
    environment = function_environment(deployment, "ReceiverFunction")
    assert environment["AWS_LAMBDA_LOG_FORMAT"] == "JSON"

    # When its handler module is imported, any warning an error
    result = run(
        [sys.executable, "-W", "error::UserWarning", "-c", "import receiver"],
        PYTHONPATH=f"{PROJECT_ROOT / 'src'}:{PROJECT_ROOT / 'functions/receiver'}",
        **environment,
    )

    # Then Powertools starts at the level Lambda filters at: no mismatch warning
    assert result.returncode == 0, result.stderr
