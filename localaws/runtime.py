"""Run a deployed function's handler in this process, the way the Lambda runtime would:
its environment from the deployment, its code on the import path (the layer is installed)."""

from __future__ import annotations

import importlib.util
import os
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from localaws.emulation import REGION, Deployment
from localaws.template import Template

type Handler = Callable[[Any, Any], Any]


@dataclass
class LocalLambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int = 512
    timeout_seconds: int = 10
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"
    function_version: str = "$LATEST"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return self.timeout_seconds * 1000


def function_environment(deployment: Deployment, logical_id: str) -> dict[str, str]:
    function = deployment.functions[logical_id]
    return {
        **function.environment,
        **function.runtime_environment,
        "AWS_LAMBDA_FUNCTION_NAME": deployment.physical_id(logical_id),
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
    }


def load_handler(
    template: Template, deployment: Deployment, logical_id: str, module_alias: str | None = None
) -> Handler:
    """Import the function's handler module. Its environment must already be in os.environ
    (see function_environment), since handlers read their settings at import time.

    `module_alias` imports a fresh copy under another name (tests load one function twice)."""
    function = deployment.functions[logical_id]
    missing = set(function.environment) - set(os.environ)
    if missing:
        raise RuntimeError(f"environment of {logical_id} not applied: {sorted(missing)}")
    code_directory = template.function_code_directory(logical_id)
    # The layer's package is installed in the project's environment (pyproject.toml): only
    # the function's own directory goes on the path, as /var/task does in Lambda.
    if str(code_directory) not in sys.path:
        sys.path.insert(0, str(code_directory))
    module_name, _, attribute = function.handler.rpartition(".")
    path = code_directory / f"{module_name.replace('.', '/')}.py"
    spec = importlib.util.spec_from_file_location(module_alias or module_name, path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    handler: Handler = getattr(module, attribute)
    return handler
