"""`make security`'s dependency audit: pip-audit over each locked requirements file.

Fails on any known vulnerability. A package the vulnerability service could not answer for is
listed and counted, not hidden; AUDIT_STRICT=1 makes that a failure too (for machines that
reach the service: this project's CI machines reach PyPI's package index only).

usage: python tools/audit.py <pip-audit executable> <requirements file>...
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field


@dataclass
class Audit:
    audited: int = 0
    vulnerable: list[str] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)

    def add(self, report: dict[str, object]) -> None:
        for dependency in report.get("dependencies", []):  # type: ignore[attr-defined]
            name = f"{dependency['name']}=={dependency.get('version', '?')}"
            if dependency.get("skip_reason"):
                self.unanswered.append(name)
                continue
            self.audited += 1
            for vulnerability in dependency.get("vulns", []):
                fixes = ", ".join(vulnerability.get("fix_versions", [])) or "no fix yet"
                self.vulnerable.append(f"{name}: {vulnerability['id']} (fixed in {fixes})")

    def summary(self) -> str:
        """One line that cannot be mistaken for a clean audit when the service did not answer."""
        total = self.audited + len(self.unanswered)
        found = f"{len(self.vulnerable)} known vulnerabilities"
        if self.vulnerable:
            return f"pip-audit: FAILED: {found} in {self.audited} of {total} locked packages"
        if self.audited == 0 and self.unanswered:
            return (
                f"pip-audit: SKIPPED: the vulnerability service did not answer; 0 of {total} "
                "locked packages audited (this is not a clean audit)"
            )
        if self.unanswered:
            return (
                f"pip-audit: INCOMPLETE: {self.audited} of {total} locked packages audited, "
                f"{found}; {len(self.unanswered)} unanswered "
                f"(e.g. {', '.join(self.unanswered[:3])})"
            )
        return f"pip-audit: PASSED: {total} of {total} locked packages audited, {found}"

    def verdict(self, strict: bool) -> int:
        for line in self.vulnerable:
            print(f"VULNERABLE {line}")
        print(self.summary())
        if self.unanswered and not strict:
            print("pip-audit: AUDIT_STRICT=1 makes an unanswered package a failure")
        if self.vulnerable or (strict and self.unanswered):
            return 1
        return 0


def run(pip_audit: str, requirements: str) -> dict[str, object]:
    result = subprocess.run(  # noqa: S603 - our own tool, our own files
        [
            pip_audit,
            "--no-deps",
            "--disable-pip",
            "--progress-spinner",
            "off",
            "--format",
            "json",
            "--requirement",
            requirements,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode not in (0, 1) or not result.stdout.strip():
        raise SystemExit(f"pip-audit failed on {requirements}: {result.stderr.strip()}")
    report: dict[str, object] = json.loads(result.stdout)
    return report


def main(argv: list[str]) -> int:
    pip_audit, *files = argv
    audit = Audit()
    for requirements in files:
        audit.add(run(pip_audit, requirements))
    return audit.verdict(strict=os.environ.get("AUDIT_STRICT") == "1")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
