"""`make local`'s stack started in this process on a free port, and everything it changed in
the environment restored when it stops."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import boto3

from localaws.net import free_port
from localaws.stack import LocalStack, start


@contextlib.contextmanager
def running_local_stack(token: str, **environment: str) -> Iterator[tuple[LocalStack, str]]:
    """(the stack, its base URL)."""
    saved = dict(os.environ)
    os.environ.update(environment)
    port = free_port()
    stop = None
    try:
        stack, _, stop = start(port, (token,), quiet=True)
        yield stack, f"http://127.0.0.1:{port}"
    finally:
        if stop is not None:
            stop()
        os.environ.clear()
        os.environ.update(saved)
        boto3.DEFAULT_SESSION = None
