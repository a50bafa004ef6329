"""`make bench`: the report fetcher's peak memory as the report grows (flat is the goal), and
its throughput beside a plain `upload_fileobj` of the same stream, measured in the same run.

Every measurement is a fresh process; S3 (moto) and the report server run in processes of
their own, so a peak RSS is the fetcher's alone.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import results
from localaws.net import free_port

ROOT = Path(__file__).resolve().parent.parent

SIZES_MIB = [
    int(size) for size in os.environ.get("BENCH_REPORT_SIZES_MIB", "10,100,1024").split(",")
]
RUNS = int(os.environ.get("BENCH_REPORT_RUNS", "2"))
MODES = ("fetcher", "upload_fileobj")
SERVER = """
import sys, time
sys.path.insert(0, {root!r})
from tests.support.report_server import ReportServer, Route, serve
state = ReportServer()
for mib in {sizes!r}:
    state.routes[f"/{{mib}}.csv"] = Route(size=mib * 2**20)
serve(state)
print(state.port, flush=True)
time.sleep(3600)
"""


def wait_for(port: int) -> None:
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        except OSError:
            time.sleep(0.1)
        else:
            return
    raise RuntimeError(f"nothing listens on {port}")


def empty(s3: Any, bucket: str) -> None:  # noqa: ANN401
    for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        s3.delete_object(Bucket=bucket, Key=item["Key"])


def main() -> None:
    import boto3  # noqa: PLC0415

    moto_port = free_port()
    moto = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-p", str(moto_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER.format(root=str(ROOT), sizes=SIZES_MIB)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        report_port = int(server.stdout.readline())  # type: ignore[union-attr]
        endpoint = f"http://127.0.0.1:{moto_port}"
        wait_for(moto_port)
        os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")  # noqa: S106
        s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=endpoint)
        s3.create_bucket(Bucket="bench-reports")
        rows = []
        peaks: dict[str, list[float]] = {"fetcher": [], "upload_fileobj": []}
        for mib in SIZES_MIB:
            url = f"http://127.0.0.1:{report_port}/{mib}.csv"
            measured: dict[str, list[dict[str, float]]] = {"fetcher": [], "upload_fileobj": []}
            for run in range(RUNS):
                # alternate who goes first, and empty the bucket after each: the S3 emulator
                # slows as it fills, and must not favour either side
                for mode in MODES if run % 2 == 0 else MODES[::-1]:
                    command = [sys.executable, "-m", "bench.report_probe", mode, url]
                    probe = subprocess.run(
                        [*command, endpoint, "bench-reports"],
                        capture_output=True,
                        text=True,
                        cwd=ROOT,
                        check=True,
                    )
                    measured[mode].append(json.loads(probe.stdout.strip().splitlines()[-1]))
                    empty(s3, "bench-reports")
            speed = {
                mode: statistics.median(r["bytes"] / r["seconds"] / 2**20 for r in runs)
                for mode, runs in measured.items()
            }
            peak = {
                mode: max(r["peak_rss_kib"] for r in runs) / 1024 for mode, runs in measured.items()
            }
            for mode in MODES:
                peaks[mode].append(peak[mode])
            rows.append(
                f"| {mib} MiB | {peak['fetcher']:.0f} | {peak['upload_fileobj']:.0f} | "
                f"{speed['fetcher']:.0f} | {speed['upload_fileobj']:.0f} | "
                f"{speed['fetcher'] / speed['upload_fileobj']:.2f}x |"
            )
    finally:
        server.terminate()
        moto.terminate()
    growth = peaks["fetcher"][-1] - peaks["fetcher"][0]
    table = "\n".join(
        [
            "| report | fetcher peak RSS (MiB) | upload_fileobj peak RSS (MiB) | fetcher MiB/s "
            "| upload_fileobj MiB/s | throughput ratio |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
            *rows,
        ]
    )
    report = (
        "## Report fetch: memory and throughput\n\n"
        f"Loopback HTTP server -> fetcher -> S3 (moto server); median of {RUNS} runs, peak "
        f"of RSS. Fetcher peak growth from {SIZES_MIB[0]} MiB to {SIZES_MIB[-1]} MiB: "
        f"{growth:.0f} MiB.\n\n{table}\n"
    )
    results.append(report)


if __name__ == "__main__":
    main()
