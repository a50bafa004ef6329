"""`make bench`: the whole pipeline on this machine (`make local`'s stack, `make demo`'s
simulated campaign) at two sizes: webhooks per second accepted over HTTP and stored (counted in
the read API), time until every callback is stored, and zero loss (every count checked against
the simulation). Rates that stay flat from the small campaign to the large one mean nothing in
the path costs time in proportion to what is already stored."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from bench import results
from localaws.demo import play
from localaws.emulation import DEFAULT_WEBHOOK_TOKEN
from localaws.net import free_port
from localaws.stack import start

ROOT = Path(__file__).resolve().parent.parent

SIZES = [int(n) for n in os.environ.get("BENCH_NUMBERS", "500,5000").split(",")]
# Short enough for the bench, long enough for this machine to store the callbacks first.
REPORT_DELAY_SECONDS = "60"


def main() -> int:
    os.environ["REPORT_FETCH_DELAY_SECONDS"] = REPORT_DELAY_SECONDS
    rows, ok = [], True
    for numbers in SIZES:
        port = free_port()
        _, _, stop = start(port, (DEFAULT_WEBHOOK_TOKEN,), quiet=True, log_level="WARNING")
        try:
            played = play(f"http://127.0.0.1:{port}", DEFAULT_WEBHOOK_TOKEN, numbers, seed=7)
        finally:
            stop()
        ok = ok and played.ok
        rows.append(
            f"| {numbers:,} | {played.webhooks:,} | {played.accepted:,} | "
            f"{played.sent_seconds:.1f} | {played.webhooks_per_second:.0f} | "
            f"{played.callbacks_stored_seconds:.1f} | {played.stored_per_second:.0f} | "
            f"{played.all_stored_seconds:.1f} | {'yes' if played.ok else 'NO'} |"
        )
    report = (
        "## Local end to end (`make local` stack, `make demo` campaign)\n\n"
        f"{results.measured_on()} "
        "Numbers under Exotel's retry rules, 10% duplicated, shuffled, JSON and form bodies, 8 "
        "concurrent senders over HTTP; four receiver containers, one per consumer (the ledger "
        f"stream's included), moto in the same process; report delay {REPORT_DELAY_SECONDS} s. "
        "Stored/s: webhooks sent, processed and counted in the read API, per second from the "
        "first send.\n\n"
        "| numbers | webhooks | accepted | sent in (s) | webhooks/s | all callbacks stored "
        "after (s) | stored/s | report reconciled after (s) | every count matches |\n"
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n" + "\n".join(rows) + "\n"
    )
    results.append(report)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
