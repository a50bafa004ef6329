"""`make bench`: cold start and warm time of the receiver (per request) and of each processor
(per batch of 10), each beside a minimal handler measured in the same run, as ratios: for the
receiver json.loads + send_message, for a processor json.loads + put_item per record.

Cold start: a fresh interpreter per sample, clock started before any import, until the first
response; AWS calls go over HTTP to a loopback stub, as they would go to AWS. Warm: invocations
after the first, with AWS answered in-process (botocore before-send), so only the handlers' own
work is compared. Candidates run alternately to share the machine's noise.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench import results
from bench.aws_stub import answer
from exotel_webhooks.intake.body import decode_fields
from exotel_webhooks.intake.callbacks import build_callback
from exotel_webhooks.settings import NormalisationRules
from exotel_webhooks.vocabulary import CallbackType
from localaws.emulation import deploy, emulated_account_environment
from localaws.runtime import function_environment
from localaws.sqs_events import sqs_event

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
FUNCTIONS = ROOT / "functions"
RECEIVER_EVENT = ROOT / "events/receiver/call-status.json"
BATCH_SIZE = 10
COLD_SAMPLES = int(os.environ.get("BENCH_COLD_SAMPLES", "15"))
WARM_REQUESTS = int(os.environ.get("BENCH_WARM_REQUESTS", "2000"))
WARM_PROCESSES = 3
PROCESSORS = [
    (CallbackType.CALL_STATUS, "CallStatusProcessorFunction", "call_status_processor"),
    (CallbackType.CALL_SCHEDULE, "CallScheduleProcessorFunction", "call_schedule_processor"),
    (CallbackType.CAMPAIGN_STATUS, "CampaignStatusProcessorFunction", "campaign_status_processor"),
]


@dataclass(frozen=True)
class Candidate:
    name: str
    handler: Path
    environment: dict[str, str]
    event: Path = RECEIVER_EVENT


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


def environments() -> dict[str, dict[str, str]]:
    """Each function's environment exactly as the template resolves it."""
    warnings.filterwarnings("ignore")
    from moto import mock_aws  # noqa: PLC0415

    with emulated_account_environment(), mock_aws():
        deployment = deploy()
        return {name: function_environment(deployment, name) for name in deployment.functions}


def batch_event(callback_type: CallbackType, directory: Path) -> Path:
    """An SQS event of BATCH_SIZE new callbacks of one type, as the event source delivers it."""
    rules = NormalisationRules()
    records = []
    for index in range(BATCH_SIZE):
        fields: dict[str, Any] = {
            "campaign_sid": "camp_bench",
            "status": "completed",
            "date_updated": f"2024-01-15 09:{index:02d}:00",
        }
        if callback_type is CallbackType.CALL_STATUS:
            fields |= {"call_sid": f"call_{index}", "number": f"+9198765432{index:02d}"}
        elif callback_type is CallbackType.CALL_SCHEDULE:
            fields |= {"to": f"+9198765432{index:02d}", "call_sids": [f"call_{index}"]}
        else:
            fields |= {"campaign_sid": f"camp_{index}", "status": "InProgress"}
        sent = decode_fields(json.dumps(fields).encode(), "application/json")
        received_at = datetime(2024, 1, 15, tzinfo=UTC)
        callback = build_callback(callback_type, sent, rules, received_at)
        records.append(
            {
                "MessageId": f"m{index}",
                "ReceiptHandle": "r",
                "Body": callback.queued_event(received_at),
            }
        )
    path = directory / f"{callback_type}.json"
    path.write_text(json.dumps(sqs_event("arn:aws:sqs:ap-south-1:123456789012:q", records)))
    return path


def comparisons(directory: Path) -> list[tuple[str, list[Candidate]]]:
    """(what is compared, [baseline, candidates...])."""
    env = environments()
    receiver = env["ReceiverFunction"]
    found = [
        (
            "receiver, per request",
            [
                Candidate(
                    "minimal json.loads + send_message", BENCH / "minimal_handler.py", receiver
                ),
                Candidate("receiver", FUNCTIONS / "receiver/receiver.py", receiver),
                Candidate(
                    "receiver, logs at WARNING",
                    FUNCTIONS / "receiver/receiver.py",
                    {**receiver, "POWERTOOLS_LOG_LEVEL": "WARNING"},
                ),
            ],
        )
    ]
    for callback_type, function, directory_name in PROCESSORS:
        environment = env[function]
        event = batch_event(callback_type, directory)
        handler = FUNCTIONS / directory_name / f"{directory_name}.py"
        found.append(
            (
                f"{callback_type} processor, per batch of {BATCH_SIZE}",
                [
                    Candidate(
                        "minimal json.loads + put_item",
                        BENCH / "minimal_processor.py",
                        environment,
                        event,
                    ),
                    Candidate(f"{callback_type} processor", handler, environment, event),
                ],
            )
        )
    return found


def probe(candidate: Candidate, mode: str, requests: int, endpoint: str) -> dict[str, Any]:
    environment = {
        **os.environ,
        **candidate.environment,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "ap-south-1",
        "PYTHONPATH": f"{ROOT}:{ROOT / 'src'}:{candidate.handler.parent}",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.probe",
            mode,
            str(candidate.handler),
            str(candidate.event),
            str(requests),
        ],
        capture_output=True,
        text=True,
        env=environment,
        cwd=ROOT,
        check=True,
    )
    measured: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return measured


def measure(candidates: list[Candidate], endpoint: str) -> list[str]:
    cold: dict[str, list[dict[str, Any]]] = {c.name: [] for c in candidates}
    for _ in range(COLD_SAMPLES):
        for candidate in candidates:
            cold[candidate.name].append(probe(candidate, "cold", 0, endpoint))
    warm: dict[str, list[float]] = {c.name: [] for c in candidates}
    invocations = WARM_REQUESTS if candidates[0].event == RECEIVER_EVENT else WARM_REQUESTS // 10
    for _ in range(WARM_PROCESSES):
        for candidate in candidates:
            warm[candidate.name] += probe(candidate, "warm", invocations, endpoint)["warm_s"]
    baseline = candidates[0].name
    base_cold = statistics.median(s["first_response_s"] for s in cold[baseline])
    base_warm = statistics.median(warm[baseline])
    rows = []
    for candidate in candidates:
        samples = cold[candidate.name]
        first = statistics.median(s["first_response_s"] for s in samples)
        imported = statistics.median(s["import_s"] for s in samples)
        per_call = statistics.median(warm[candidate.name])
        rss = statistics.median(s["peak_rss_kib"] for s in samples) / 1024
        rows.append(
            f"| {candidate.name} | {imported * 1000:.0f} | {first * 1000:.0f} | "
            f"{first / base_cold:.2f}x | {per_call * 1e6:.0f} | "
            f"{per_call / base_warm:.2f}x | {rss:.0f} |"
        )
    return rows


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), StubAws)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    sections = []
    with tempfile.TemporaryDirectory() as directory:
        for title, candidates in comparisons(Path(directory)):
            rows = measure(candidates, endpoint)
            sections.append(
                "\n".join(
                    [
                        f"**{title}**\n",
                        "| handler | import (ms) | cold start to first response (ms) | cold ratio "
                        "| warm per invocation (µs) | warm ratio | peak RSS (MiB) |",
                        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
                        *rows,
                    ]
                )
            )
    server.shutdown()
    machine = (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.platform()}"
    )
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    report = (
        f"## Cold start and warm invocation\n\n"
        f"Measured {when} on {machine}. Medians of {COLD_SAMPLES} cold starts and "
        f"{WARM_PROCESSES}x{WARM_REQUESTS} warm requests (receiver) or "
        f"{WARM_PROCESSES}x{WARM_REQUESTS // 10} batches (processors) per handler; each ratio "
        f"is to the minimal handler above it, measured in the same run. Targets: receiver cold "
        f"start <= 1.3x, warm <= 1.5x.\n\n" + "\n\n".join(sections) + "\n"
    )
    results.start(report)


if __name__ == "__main__":
    main()
