"""`make bench`: the receiver's cold start and warm per-request time beside a minimal handler
(json.loads + send_message), measured in the same run, reported as ratios.

Cold start: a fresh interpreter per sample, clock started before any import, until the first
response; AWS calls (Secrets Manager, SQS) go over HTTP to a loopback stub, as they would go to
AWS. Warm: requests after the first, with AWS answered in-process (botocore before-send), so
only the handlers' own work is compared. Both run alternately to share the machine's noise.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from aws_stub import answer  # noqa: E402

from localaws.emulation import deploy, emulated_account_environment  # noqa: E402
from localaws.runtime import function_environment  # noqa: E402

EVENT = ROOT / "events/receiver/call-status.json"
COLD_SAMPLES = int(os.environ.get("BENCH_COLD_SAMPLES", "15"))
WARM_REQUESTS = int(os.environ.get("BENCH_WARM_REQUESTS", "2000"))
WARM_PROCESSES = 3
RESULTS = ROOT / "docs/benchmarks.md"


@dataclass(frozen=True)
class Candidate:
    name: str
    handler: Path
    environment: dict[str, str]


class StubAws(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        request_body = self.rfile.read(int(self.headers.get("content-length", 0)))
        body = answer(self.headers["x-amz-target"], request_body)
        self.send_response(200)
        self.send_header("content-type", "application/x-amz-json-1.0")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: ANN401
        pass


def receiver_environment() -> dict[str, str]:
    """The receiver's environment exactly as the template resolves it."""
    warnings.filterwarnings("ignore")
    from moto import mock_aws  # noqa: PLC0415

    with emulated_account_environment(), mock_aws():
        return function_environment(deploy(), "ReceiverFunction")


def probe(candidate: Candidate, mode: str, requests: int, endpoint: str) -> dict[str, Any]:
    environment = {
        **os.environ,
        **candidate.environment,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "ap-south-1",
        "PYTHONPATH": f"{ROOT / 'layers/common'}:{candidate.handler.parent}",
    }
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench/probe.py"),
            mode,
            str(candidate.handler),
            str(EVENT),
            str(requests),
        ],
        capture_output=True,
        text=True,
        env=environment,
        check=True,
    )
    measured: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return measured


def main() -> None:
    environment = receiver_environment()
    candidates = [
        Candidate(
            "minimal json.loads + send_message", ROOT / "bench/minimal_handler.py", environment
        ),
        Candidate("receiver", ROOT / "functions/receiver/receiver.py", environment),
        Candidate(
            "receiver, logs at WARNING",
            ROOT / "functions/receiver/receiver.py",
            {**environment, "POWERTOOLS_LOG_LEVEL": "WARNING"},
        ),
    ]
    server = ThreadingHTTPServer(("127.0.0.1", 0), StubAws)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"

    cold: dict[str, list[dict[str, Any]]] = {c.name: [] for c in candidates}
    for _ in range(COLD_SAMPLES):
        for candidate in candidates:
            cold[candidate.name].append(probe(candidate, "cold", 0, endpoint))
    warm: dict[str, list[float]] = {c.name: [] for c in candidates}
    for _ in range(WARM_PROCESSES):
        for candidate in candidates:
            warm[candidate.name] += probe(candidate, "warm", WARM_REQUESTS, endpoint)["warm_s"]
    server.shutdown()

    baseline = candidates[0].name
    base_cold = statistics.median(s["first_response_s"] for s in cold[baseline])
    base_warm = statistics.median(warm[baseline])
    rows = []
    for candidate in candidates:
        samples = cold[candidate.name]
        first = statistics.median(s["first_response_s"] for s in samples)
        imported = statistics.median(s["import_s"] for s in samples)
        per_request = statistics.median(warm[candidate.name])
        rss = statistics.median(s["peak_rss_kib"] for s in samples) / 1024
        rows.append(
            f"| {candidate.name} | {imported * 1000:.0f} | {first * 1000:.0f} | "
            f"{first / base_cold:.2f}x | {per_request * 1e6:.0f} | "
            f"{per_request / base_warm:.2f}x | {rss:.0f} |"
        )
    table = "\n".join(
        [
            "| handler | import (ms) | cold start to first response (ms) | cold ratio "
            "| warm per request (µs) | warm ratio | peak RSS (MiB) |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
            *rows,
        ]
    )
    machine = (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.platform()}"
    )
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    report = (
        f"## Receiver: cold start and warm request (`make bench`)\n\n"
        f"Measured {when} on {machine}. Medians of {COLD_SAMPLES} cold starts and "
        f"{WARM_PROCESSES}x{WARM_REQUESTS} warm requests per handler; the ratio is to the "
        f"minimal handler measured in the same run.\n\n{table}\n"
    )
    print(report)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(f"# Benchmarks\n\n{report}")


if __name__ == "__main__":
    main()
