"""The local tier's fixtures: the whole local stack over HTTP (tests/support/local_stack.py)."""

from tests.support.stack import report_server, template  # noqa: F401 - fixtures, by name
