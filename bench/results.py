"""docs/benchmarks.md: `make bench` starts it with the latency figures, every later section is
appended (a script run alone appends its section to the file there is, or only prints it)."""

import os
import platform
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent.parent / "docs/benchmarks.md"


METHOD = """\
`make bench` (about 24 minutes on 2 cores, 12 of them the two `make demo` campaigns) measures
everything beside a baseline in the same run and rewrites this file:
- Latency: a fresh interpreter per cold start, with AWS over HTTP to a loopback stub; warm
  invocations with AWS answered in-process, so only the handlers' own work is compared.
- Costs: AWS requests counted from botocore's events, DynamoDB units by its sizing rules, log
  and metrics bytes as written, the handlers' CPU measured warm; batch fill, stream
  invocations and counter writes from two load points and the template's own settings
  (bench/cost_model.py); the whole bill per million webhooks, per month kept and per month.
- Hot keys: one campaign's 10,000-callback burst through the processors and the stream, each
  partition key's writes per second, table and index.
- Reports: a fresh process per fetch, S3 emulated in another process, beside a plain
  `upload_fileobj` of the same stream.
- Sweeps: one campaign swept through a simulated Campaign API, its requests and units counted,
  and its time with DynamoDB answered in-process after a simulated round trip.
- Call details: a thousand final attempts through the stream, the call details function and a
  simulated Call details API, every request and unit counted.
- Local end to end: `make demo`'s campaign through `make local`'s stack, at 500 and 5,000
  numbers (`BENCH_NUMBERS`).
- Sizes: `sam build`'s output.

The machine is shared: ratios move between runs, so compare figures of one run.
"""


def start(report: str) -> None:
    print(report)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(f"# Benchmarks (`make bench`)\n\n{METHOD}\n{report.rstrip()}\n")


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
