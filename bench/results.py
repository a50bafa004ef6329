"""docs/benchmarks.md: `make bench` starts it with the latency figures, every later section is
appended (a script run alone appends its section to the file there is, or only prints it)."""

import os
import platform
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent.parent / "docs/benchmarks.md"


def start(report: str) -> None:
    print(report)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(f"# Benchmarks (`make bench`)\n\n{report.rstrip()}\n")


def append(report: str) -> None:
    print(report)
    if RESULTS.exists():
        RESULTS.write_text(f"{RESULTS.read_text()}\n{report.rstrip()}\n")


def measured_on() -> str:
    """When and where a section was measured: its figures hold for that machine."""
    return (
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}."
    )
