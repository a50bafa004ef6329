"""The browser tier (opt-in: `make test-browser` installs Chromium from Debian's packages):
pages rendered by a real headless Chromium. Without Chromium its tests are skipped, and say so."""

import shutil

import pytest

from tests.support.stack import (  # noqa: F401 - pytest finds fixtures by name here
    aws_calls,
    load_function,
    log_output,
    pipeline,
    report_server,
    stack,
    template,
)


@pytest.fixture(scope="session")
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("no Chromium here: make test-browser installs it (Debian's chromium)")
    return found


@pytest.fixture(autouse=True)
def _erasures_settle_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in the stack tier: no replication lag to wait for."""
    monkeypatch.setattr("ops.erase.SETTLE_SECONDS", 0.0)
    monkeypatch.setattr("ops.erase.dataset_catch_up_seconds", lambda _target: 0.0)
    # and the pipeline hands a rule's events over once the stream has caught up
    monkeypatch.setattr("exotel_webhooks.views.pages.SETTLE_SECONDS", 0.0)
