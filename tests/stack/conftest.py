"""The stack tier's fixtures: the template deployed into moto, functions loaded with its
environment (tests/support/stack.py)."""

from tests.support.stack import (  # noqa: F401 - pytest finds fixtures by name here
    aws_calls,
    cloudformation,
    load_function,
    log_output,
    pipeline,
    receiver,
    report_server,
    stack,
    template,
)
