"""`make bench`: the whole pipeline on this machine (`make local`'s stack, `make demo`'s
simulated campaign): webhooks per second accepted over HTTP, time until every callback is
stored, and zero loss (every count checked against the simulation)."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers/common"), str(ROOT / "bench")]

import results  # noqa: E402

from localaws.demo import play  # noqa: E402
from localaws.emulation import DEFAULT_WEBHOOK_TOKEN  # noqa: E402
from localaws.stack import start  # noqa: E402

NUMBERS = int(os.environ.get("BENCH_NUMBERS", "200"))
# Short enough for the bench, long enough for this machine to store the callbacks first.
REPORT_DELAY_SECONDS = "60"


def main() -> int:
    os.environ["REPORT_FETCH_DELAY_SECONDS"] = REPORT_DELAY_SECONDS
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    _, _, stop = start(port, (DEFAULT_WEBHOOK_TOKEN,), quiet=True, log_level="WARNING")
    try:
        played = play(f"http://127.0.0.1:{port}", DEFAULT_WEBHOOK_TOKEN, NUMBERS, seed=7)
    finally:
        stop()
    report = (
        "## Local end to end (`make local` stack, `make demo` campaign)\n\n"
        f"{NUMBERS} numbers under Exotel's retry rules, 10% duplicated, shuffled, JSON and form "
        "bodies, 8 concurrent senders over HTTP; four receiver containers, one per consumer, "
        f"moto in the same process; report delay {REPORT_DELAY_SECONDS} s.\n\n"
        "| webhooks | accepted | sent in (s) | webhooks/s | all callbacks stored after (s) "
        "| report reconciled after (s) | every count matches |\n"
        "| ---: | ---: | ---: | ---: | ---: | ---: | --- |\n"
        f"| {played.webhooks} | {played.accepted} | {played.sent_seconds:.1f} | "
        f"{played.webhooks_per_second:.0f} | {played.callbacks_stored_seconds:.1f} | "
        f"{played.all_stored_seconds:.1f} | {'yes' if played.ok else 'NO'} |\n"
    )
    results.append(report)
    return 0 if played.ok else 1


if __name__ == "__main__":
    sys.exit(main())
