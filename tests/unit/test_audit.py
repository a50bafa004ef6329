"""`make security`'s dependency audit (tools/audit.py): what fails it, and a summary line that
never reads as a clean audit when the vulnerability service did not answer."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CLEAN = {"dependencies": [{"name": "six", "version": "1.17.0", "vulns": []}]}
VULNERABLE = {
    "dependencies": [
        {"name": "urllib3", "version": "1.0", "vulns": [{"id": "GHSA-x", "fix_versions": ["2"]}]}
    ]
}
UNANSWERED = {"dependencies": [{"name": "rare", "skip_reason": "service unreachable"}]}


def _audit_module() -> Any:
    spec = importlib.util.spec_from_file_location("audit", ROOT / "tools/audit.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["audit"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _audit(*reports: dict[str, Any]) -> Any:
    audit = _audit_module().Audit()
    for report in reports:
        audit.add(report)
    return audit


def test_the_audit_fails_on_a_known_vulnerability_and_on_silence_only_when_strict() -> None:
    assert _audit(CLEAN).verdict(strict=False) == 0
    assert _audit(CLEAN, VULNERABLE).verdict(strict=False) == 1
    assert _audit(CLEAN, UNANSWERED).verdict(strict=False) == 0
    assert _audit(CLEAN, UNANSWERED).verdict(strict=True) == 1


def test_an_unreachable_service_reads_as_skipped_not_as_a_pass() -> None:
    # Given an audit where the service answered for no package
    audit = _audit(UNANSWERED, UNANSWERED)

    # Then its summary says SKIPPED and that nothing was audited
    assert audit.summary().startswith("pip-audit: SKIPPED:")
    assert "0 of 2 locked packages audited" in audit.summary()


def test_each_outcome_has_its_own_word() -> None:
    assert _audit(CLEAN).summary().startswith("pip-audit: PASSED: 1 of 1")
    assert _audit(CLEAN, UNANSWERED).summary().startswith("pip-audit: INCOMPLETE: 1 of 2")
    assert _audit(CLEAN, VULNERABLE).summary().startswith("pip-audit: FAILED: 1 known")
