"""Runs in a fresh interpreter: import a handler, answer requests, print timings as JSON.

argv: <mode cold|warm> <handler file> <event file> <requests>
cold: AWS calls go over HTTP to the stub server named by AWS_ENDPOINT_URL; the clock starts
      before anything is imported (module import to first response).
warm: AWS calls are answered in-process by a before-send stub; times the requests after the first.
"""

import time

START = time.perf_counter()

import importlib.util  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from bench.measure import peak_rss_kib  # noqa: E402


def load(path: str) -> Any:  # noqa: ANN401
    spec = importlib.util.spec_from_file_location(Path(path).stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


class Context:
    function_name = "bench"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:ap-south-1:123456789012:function:bench"
    aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def stub_aws_in_process() -> None:
    import boto3  # noqa: PLC0415

    from bench.aws_stub import answer_in_process  # noqa: PLC0415

    boto3.setup_default_session()
    assert boto3.DEFAULT_SESSION is not None
    answer_in_process(boto3.DEFAULT_SESSION)


def main() -> None:
    mode, handler_file, event_file, requests = sys.argv[1:5]
    if mode == "warm":
        stub_aws_in_process()
    event = json.loads(Path(event_file).read_text())
    handler = load(handler_file)
    imported = time.perf_counter()
    first = handler(event, Context())
    answered = time.perf_counter()
    assert first.get("statusCode") == 200 or first.get("batchItemFailures") == [], first
    timings = []
    for _ in range(int(requests)):
        began = time.perf_counter()
        handler(event, Context())
        timings.append(time.perf_counter() - began)
    print(
        json.dumps(
            {
                "import_s": imported - START,
                "first_response_s": answered - START,
                "warm_s": timings,
                "peak_rss_kib": peak_rss_kib(),
            }
        )
    )


main()
