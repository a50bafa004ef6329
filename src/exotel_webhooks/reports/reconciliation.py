"""Reconciling a campaign report with the call schedule callbacks, in bounded memory.

Exotel publishes no column list, so the phone-number and status columns are found from the
header. Rows are read as a stream and looked up 100 at a time (BatchGetItem). What the report
says of a number is recorded on its outcome (`report_status`); a number with no outcome from a
callback is backfilled with `source: "report"`, which any callback replaces whenever it arrives
(ledger/precedence.py). The matched / mismatched / backfilled counts move with those writes
(ledger/table.py), so they are exact whatever the order; running reconciliation again changes
nothing. A row that cannot be read (no number in E.164, no status, a broken CSV record) is
counted as unparseable and never stops the rest.
"""

from __future__ import annotations

import csv
import itertools
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from exotel_webhooks.ledger.counting import RECONCILED_CLASSES, reconciliation_class
from exotel_webhooks.ledger.keys import outcome_keys
from exotel_webhooks.ledger.precedence import EARLIEST
from exotel_webhooks.ledger.table import CampaignTable
from exotel_webhooks.normalise import field_key, normalise_call_status, normalise_phone
from exotel_webhooks.observability import logger, number_hash
from exotel_webhooks.settings import NormalisationRules
from exotel_webhooks.vocabulary import check_identifier

# Header names, normalised (case and separators ignored), most specific first.
PHONE_COLUMNS = (
    "number", "phonenumber", "phone", "to", "mobile", "mobilenumber", "contact",
    "contactnumber", "customernumber", "msisdn", "callto", "destination",
)  # fmt: skip
STATUS_COLUMNS = (
    "status", "finalstatus", "callstatus", "laststatus", "outcome", "result", "disposition",
)  # fmt: skip
BACKFILL_VERSION = f"{EARLIEST}#0#report"
UNREADABLE_RECORD = "\x00unreadable"
_LOOKUP_BATCH = 100
_WORKERS = 4


class ReconciliationFailed(Exception):
    """The report cannot be reconciled (no recognisable columns); it stays stored."""


@dataclass(frozen=True)
class ReportScan:
    """What reading the report found (stored on the summary), and how its numbers compared
    with the outcomes when they were written (`classes`: the counters follow from the stream)."""

    report_rows: int = 0
    unparseable: int = 0
    classes: dict[str, int] = field(default_factory=dict)
    # numbers erased before the report came (tombstones): their rows must leave the stored
    # object too; held in memory only, never stored or logged
    erased: frozenset[str] = frozenset()

    def as_dict(self) -> dict[str, int]:
        return {"report_rows": self.report_rows, "unparseable": self.unparseable}

    def counts(self) -> dict[str, int]:
        """The reconciliation as it stood when this run finished."""
        return {
            "report_rows": self.report_rows,
            **{name: self.classes.get(name, 0) for name in RECONCILED_CLASSES},
            "unparseable": self.unparseable,
        }


def find_columns(header: list[str]) -> tuple[int, int]:
    phone, status = phone_column(header), _column(header, STATUS_COLUMNS, "status")
    if phone is None or status is None:
        raise ReconciliationFailed(f"no phone-number and status columns in header {header[:12]}")
    return phone, status


def phone_column(header: list[str]) -> int | None:
    """The column of the phone numbers, if the header names one (an erasure needs no other)."""
    return _column(header, PHONE_COLUMNS, "number")


def _column(header: list[str], candidates: tuple[str, ...], fallback: str) -> int | None:
    keys = [field_key(name) for name in header]
    for candidate in candidates:
        if candidate in keys:
            return keys.index(candidate)
    return next((i for i, key in enumerate(keys) if fallback in key), None)


def csv_rows(lines: Iterable[bytes]) -> Iterator[list[str]]:
    """CSV records from a stream of byte lines (quoted fields may span lines); the delimiter
    is whichever of , ; tab | the header line uses most."""
    return delimited_rows(lines)[1]


def delimited_rows(lines: Iterable[bytes]) -> tuple[str, Iterator[list[str]]]:
    """The delimiter the report uses, and its records (csv_rows)."""
    text = (line.decode("utf-8-sig", errors="replace") for line in lines)
    first = next(text, "")
    delimiter = max(",;\t|", key=first.count)
    return delimiter, _records(csv.reader(itertools.chain([first], text), delimiter=delimiter))


def _records(reader: Iterator[list[str]]) -> Iterator[list[str]]:
    """A record the csv module refuses (a field over its limit) becomes an empty-marked record
    rather than ending the stream: the reader goes on with the next line."""
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error:
            yield [UNREADABLE_RECORD]


def reconcile(
    rows: Iterator[list[str]],
    campaign_sid: str,
    table: CampaignTable,
    rules: NormalisationRules,
    expires_at: int | None = None,
) -> ReportScan:
    """`expires_at` (DataRetentionDays): when backfilled outcomes expire, as callbacks' do."""
    header = next(rows, None)
    if header is None:
        raise ReconciliationFailed("the report has no header row")
    phone_column, status_column = find_columns(header)
    totals: Counter[str] = Counter()
    in_flight: deque[Future[Counter[str]]] = deque()
    classes: Counter[str] = Counter()
    erased: set[str] = set()  # added to from the pool's threads (set.add is atomic)
    # Chunks are reconciled on a few threads (lookups are I/O); at most 2x workers chunks are
    # held at once, whatever the report's size.
    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        for chunk in _chunks(rows, phone_column, status_column, rules, totals):
            in_flight.append(
                pool.submit(_reconcile_chunk, chunk, campaign_sid, table, expires_at, erased)
            )
            while len(in_flight) >= 2 * _WORKERS:
                classes.update(in_flight.popleft().result())
        while in_flight:
            classes.update(in_flight.popleft().result())
    return ReportScan(
        totals["report_rows"], totals["unparseable"], dict(classes), frozenset(erased)
    )


def _chunks(
    rows: Iterator[list[str]],
    phone_column: int,
    status_column: int,
    rules: NormalisationRules,
    totals: Counter[str],
) -> Iterator[list[tuple[str, str, str]]]:
    chunk: list[tuple[str, str, str]] = []
    for row in rows:
        if not any(cell.strip() for cell in row):
            continue
        totals["report_rows"] += 1
        parsed = _parse_row(row, phone_column, status_column, rules)
        if parsed is None:
            totals["unparseable"] += 1
            continue
        chunk.append(parsed)
        if len(chunk) == _LOOKUP_BATCH:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _parse_row(
    row: list[str], phone_column: int, status_column: int, rules: NormalisationRules
) -> tuple[str, str, str] | None:
    """(E.164 number, the number as written, normalised status), or None if unreadable. A number
    that is not a phone number (masked, partial) cannot say which subscriber it was."""
    raw = row[phone_column].strip() if phone_column < len(row) else ""
    reported = row[status_column].strip() if status_column < len(row) else ""
    if not raw or not reported:
        return None
    number = normalise_phone(raw, rules.default_phone_region).e164
    try:
        status = check_identifier(normalise_call_status(reported))
    except ValueError:  # "-", punctuation only, or too long to key
        return None
    return (number, raw, status) if number else None


def _reconcile_chunk(
    chunk: list[tuple[str, str, str]],
    sid: str,
    table: CampaignTable,
    expires_at: int | None,
    erased: set[str],
) -> Counter[str]:
    stored = {
        outcome["number"]: outcome
        for outcome in table.outcomes(sid, [number for number, _, _ in chunk])
    }
    classes: Counter[str] = Counter()
    for number, raw, status in chunk:
        backfill = _backfill(sid, number, raw, status) | {"expires_at": expires_at}
        outcome = table.report_number(backfill, stored.get(number))
        if outcome is None:  # an erased number: its row is not written back
            erased.add(number)
            stored.pop(number, None)  # what the batch read found is gone: not counted
            continue
        stored[number] = outcome
        if outcome.get("source") != "report" and outcome["status"] != status:
            logger.info(
                "report disagrees with callback",
                campaign_sid=sid,
                number_hash=number_hash(number),
                report_status=status,
                callback_status=outcome["status"],
            )
    for outcome in stored.values():
        if reconciled := reconciliation_class(outcome):
            classes[reconciled] += 1
    return classes


def _backfill(sid: str, number: str, raw: str, status: str) -> dict[str, Any]:
    return {
        **outcome_keys(sid, number),
        "campaign_sid": sid,
        "number": number,
        "number_raw": raw,
        "status": status,
        "report_status": status,
        "source": "report",
        "version": BACKFILL_VERSION,
    }
