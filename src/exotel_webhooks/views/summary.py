"""A campaign's summary page (docs/architecture.md, "Summary page"): what a person running the
campaign wants to see, as one self-contained HTML file with inline SVG charts (no script, font
or image from anywhere), made from the ledger. It names no phone number: it can be shared.
"""

from __future__ import annotations

import html
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from exotel_webhooks.ledger.keys import subscriber_of
from exotel_webhooks.normalise import parse_timestamp
from exotel_webhooks.views.redial import CONNECTED, FINAL_CALL_STATUSES


@dataclass(frozen=True)
class Rate:
    """Attempts and connects of one bar: an hour of the day, or an attempt number."""

    key: int
    attempts: int
    connected: int

    @property
    def percent(self) -> float:
        return 100 * self.connected / self.attempts if self.attempts else 0.0


@dataclass(frozen=True)
class Moment:
    at: datetime
    what: str


@dataclass(frozen=True)
class CampaignFigures:
    campaign_sid: str
    status: str | None
    zone: str
    numbers: dict[str, int]  # final outcomes by status (the counters)
    attempts: dict[str, int]  # attempts by status (the counters)
    by_hour: list[Rate]  # final attempts by the hour dialled, in the campaign's zone
    by_attempt: list[Rate]  # final attempts by their place among the number's attempts
    attempts_per_connect: dict[int, int]  # attempts a connected number took -> numbers
    timeline: list[Moment]
    reconciliation: dict[str, Any] | None
    report: dict[str, Any] | None
    sweep: dict[str, Any] | None
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def numbers_total(self) -> int:
        return sum(self.numbers.values())

    @property
    def attempts_total(self) -> int:
        return sum(self.attempts.values())


def _moment(value: object, zone: ZoneInfo) -> datetime | None:
    """A stored time as an instant in the campaign's zone, or None if it is not one (a time
    at the calendar's edge that no zone can show is not one either)."""
    if not value:
        return None
    try:
        return parse_timestamp(str(value), zone).astimezone(zone)
    except (ValueError, OverflowError):
        return None


def campaign_figures(
    view: Mapping[str, Any],
    attempts: Sequence[Mapping[str, Any]],
    outcomes: Mapping[str, Mapping[str, Any]],
    zone: ZoneInfo,
) -> CampaignFigures:
    """The page's figures: `view` is the read API's campaign (its counters, report,
    reconciliation, sweep), `attempts` every stored attempt, `outcomes` by subscriber."""
    # a masked number's retries are stored apart, each under its own call SID: the call SIDs
    # its outcome lists say whose they are
    owner = {
        str(call_sid): subscriber
        for subscriber, outcome in sorted(outcomes.items())
        for call_sid in outcome.get("call_sids") or []
    }
    per_subscriber: dict[str, list[tuple[datetime | None, str, str]]] = defaultdict(list)
    by_hour: dict[int, Counter[str]] = defaultdict(Counter)
    for attempt in attempts:
        call_sid = str(attempt.get("call_sid"))
        dialled = _moment(attempt.get("date_created") or attempt.get("date_updated"), zone)
        status = str(attempt.get("status"))
        subscriber = owner.get(call_sid) or str(attempt.get("number") or subscriber_of(attempt))
        per_subscriber[subscriber].append((dialled, call_sid, status))
        if status in FINAL_CALL_STATUSES and dialled is not None:
            counts = by_hour[dialled.astimezone(zone).hour]
            counts.update(attempts=1, connected=int(status == CONNECTED))
    by_place: dict[int, Counter[str]] = defaultdict(Counter)
    for dialled_in_order in per_subscriber.values():
        dialled_in_order.sort(key=_dial_order)
        for place, (_, _, status) in enumerate(dialled_in_order, start=1):
            if status in FINAL_CALL_STATUSES:
                by_place[place].update(attempts=1, connected=int(status == CONNECTED))
    took = Counter(
        len(per_subscriber.get(subscriber, []))
        for subscriber, outcome in outcomes.items()
        if outcome.get("status") == CONNECTED and per_subscriber.get(subscriber)
    )
    return CampaignFigures(
        campaign_sid=str(view["campaign_sid"]),
        status=view.get("status"),
        zone=str(zone),
        numbers=dict(view["numbers"]["by_status"]),
        attempts=dict(view["attempts"]["by_status"]),
        by_hour=_rates(by_hour),
        by_attempt=_rates(by_place),
        attempts_per_connect=dict(sorted(took.items())),
        timeline=_timeline(view, attempts, zone),
        reconciliation=view.get("reconciliation"),
        report=view.get("report"),
        sweep=view.get("sweep"),
    )


def _dial_order(attempt: tuple[datetime | None, str, str]) -> tuple[bool, datetime, str]:
    """By when dialled (an unreadable time last), then by call SID."""
    dialled, call_sid, _ = attempt
    return dialled is None, dialled or datetime.min.replace(tzinfo=UTC), call_sid


def _rates(counts: Mapping[int, Counter[str]]) -> list[Rate]:
    return [Rate(key, c["attempts"], c["connected"]) for key, c in sorted(counts.items())]


def _timeline(
    view: Mapping[str, Any], attempts: Sequence[Mapping[str, Any]], zone: ZoneInfo
) -> list[Moment]:
    moments: list[Moment] = []

    def add(value: object, what: str) -> None:
        if (at := _moment(value, zone)) is not None:
            moments.append(Moment(at, what))

    add(view.get("date_created"), "campaign created")
    dialled = sorted(
        at
        for a in attempts
        if (at := _moment(a.get("date_created") or a.get("date_updated"), zone)) is not None
    )
    if dialled:
        moments += [
            Moment(dialled[0], "first call dialled"),
            Moment(dialled[-1], "last call dialled"),
        ]
    if view.get("status"):
        add(view.get("date_updated"), f"campaign {view['status']}")
    report = view.get("report") or {}
    reconciled = " and reconciled" if view.get("reconciliation") else ""
    add(report.get("fetched_at"), f"report fetched{reconciled}")
    sweep = view.get("sweep") or {}
    add(sweep.get("last_run"), "last sweep of Exotel's Campaign API")
    return sorted(moments, key=lambda m: m.at)


# ------------------------------------------------------------------------------ the page
_STYLE = " ".join(
    [
        "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;",
        "max-width:60rem;color:#1f2933;padding:0 1rem}",
        "h1{font-size:1.5rem;margin-bottom:.2rem}",
        "h2{font-size:1.1rem;margin-top:2rem;border-bottom:1px solid #d9e2ec;padding-bottom:.3rem}",
        ".muted{color:#616e7c;font-size:.9rem}",
        ".figures{display:flex;flex-wrap:wrap;gap:1rem;margin-top:1rem}",
        ".figure{background:#f0f4f8;border-radius:6px;padding:.8rem 1rem;min-width:8rem}",
        ".figure b{display:block;font-size:1.5rem}",
        "table{border-collapse:collapse}",
        "td,th{padding:.25rem .8rem;text-align:left;border-bottom:1px solid #e4e7eb}",
        "td.n{text-align:right;font-variant-numeric:tabular-nums}",
        "svg{display:block;margin-top:.5rem}",
        ".bar{fill:#2f80ed}.bar.connected{fill:#27ae60}",
        ".axis{font-size:11px;fill:#616e7c}.value{font-size:11px;fill:#1f2933}",
    ]
)


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def summary_html(figures: CampaignFigures) -> str:
    """The page, self-contained: inline style and SVG only."""
    connected = figures.numbers.get(CONNECTED, 0)
    numbers, attempts = figures.numbers_total, figures.attempts_total
    cards = [
        ("numbers with a final outcome", f"{numbers:,}", "numbers"),
        ("connected", f"{connected:,} ({_percent(connected, numbers)})", "connected"),
        ("call attempts", f"{attempts:,}", "attempts"),
        (
            "attempts per number",
            f"{attempts / numbers:.2f}" if numbers else "-",
            "attempts-per-number",
        ),
    ]
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Campaign {_e(figures.campaign_sid)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>Campaign {_e(figures.campaign_sid)}</h1>",
        f'<p class="muted">Status <b id="status">{_e(figures.status or "not known yet")}</b>. '
        f"Hours of the day are in {_e(figures.zone)}. Made "
        f"{figures.generated_at.strftime('%Y-%m-%d %H:%M UTC')} from the ledger.</p>",
        '<div class="figures">',
        *(
            f'<div class="figure" id="{key}"><b>{value}</b>{_e(label)}</div>'
            for label, value, key in cards
        ),
        "</div>",
        "<h2>Outcome mix</h2>",
        _bars_horizontal(
            "outcome-mix", sorted(figures.numbers.items(), key=lambda kv: (-kv[1], kv[0]))
        ),
        "<h2>Connect rate by hour of the day</h2>",
        _rate_chart("by-hour", figures.by_hour, lambda key: f"{key:02d}"),
        "<h2>Connect rate by attempt</h2>",
        _rate_chart("by-attempt", figures.by_attempt, lambda key: f"#{key}"),
        "<h2>Attempts a connected number took</h2>",
        _bars_horizontal(
            "attempts-per-connect",
            [
                (f"{n} attempt{'s' if n > 1 else ''}", count)
                for n, count in figures.attempts_per_connect.items()
            ],
        ),
        "<h2>Timeline</h2>",
        _timeline_svg(figures.timeline),
        "<h2>Reconciliation</h2>",
        _reconciliation(figures),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _empty(chart_id: str) -> str:
    return f'<p class="muted" id="{chart_id}">Nothing to draw yet.</p>'


def _bars_horizontal(chart_id: str, rows: Sequence[tuple[str, int]]) -> str:
    if not rows or not any(value for _, value in rows):
        return _empty(chart_id)
    width, label_width, row_height = 640, 160, 24
    most = max(value for _, value in rows)
    total = sum(value for _, value in rows)
    lines = [
        f'<svg id="{chart_id}" role="img" width="{width}" height="{row_height * len(rows) + 8}" '
        f'viewBox="0 0 {width} {row_height * len(rows) + 8}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for index, (label, value) in enumerate(rows):
        y = index * row_height + 4
        length = max((width - label_width - 140) * value / most, 1 if value else 0)
        lines += [
            f'<text class="axis" x="0" y="{y + 15}">{_e(label)}</text>',
            f'<rect class="bar" data-label="{_e(label)}" data-value="{value}" x="{label_width}" '
            f'y="{y}" width="{length:.1f}" height="{row_height - 6}"/>',
            f'<text class="value" x="{label_width + length + 6:.1f}" y="{y + 15}">'
            f"{value:,} ({_percent(value, total)})</text>",
        ]
    return "\n".join([*lines, "</svg>"])


def _rate_chart(chart_id: str, rates: Sequence[Rate], name: Any) -> str:  # noqa: ANN401
    """Vertical bars: each bar's height its connect rate, its attempts under it."""
    if not rates:
        return _empty(chart_id)
    step = min(60, 600 // len(rates))
    height, top, bottom = 160, 20, 36
    width = step * len(rates) + 40
    lines = [
        f'<svg id="{chart_id}" role="img" width="{width}" height="{height + top + bottom}" '
        f'viewBox="0 0 {width} {height + top + bottom}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for index, rate in enumerate(rates):
        x = 20 + index * step
        bar = max(height * rate.percent / 100, 1)
        lines += [
            f'<rect class="bar connected" data-key="{rate.key}" data-attempts="{rate.attempts}" '
            f'data-connected="{rate.connected}" x="{x + 4}" y="{top + height - bar:.1f}" '
            f'width="{step - 8}" height="{bar:.1f}"/>',
            f'<text class="value" x="{x + step / 2:.1f}" y="{top + height - bar - 4:.1f}" '
            f'text-anchor="middle">{rate.percent:.0f}%</text>',
            f'<text class="axis" x="{x + step / 2:.1f}" y="{top + height + 14}" '
            f'text-anchor="middle">{_e(name(rate.key))}</text>',
            f'<text class="axis" x="{x + step / 2:.1f}" y="{top + height + 28}" '
            f'text-anchor="middle">{rate.connected}/{rate.attempts}</text>',
        ]
    return "\n".join([*lines, "</svg>"])


def _timeline_svg(moments: Sequence[Moment]) -> str:
    if not moments:
        return _empty("timeline")
    start, end = moments[0].at, moments[-1].at
    span = (end - start).total_seconds() or 1.0
    width, row = 640, 22
    lines = [
        f'<svg id="timeline" role="img" width="{width + 320}" height="{row * len(moments) + 10}" '
        f'viewBox="0 0 {width + 320} {row * len(moments) + 10}" '
        'xmlns="http://www.w3.org/2000/svg">'
    ]
    for index, moment in enumerate(moments):
        x = 10 + (width - 20) * (moment.at - start).total_seconds() / span
        y = index * row + 14
        when = moment.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        lines += [
            f'<circle class="bar" cx="{x:.1f}" cy="{y - 4}" r="5"/>',
            f'<text class="value" x="{width + 10}" y="{y}">{when}: {_e(moment.what)}</text>',
        ]
    return "\n".join([*lines, "</svg>"])


def _reconciliation(figures: CampaignFigures) -> str:
    rows: list[tuple[str, object]] = []
    if figures.report:
        rows += [("report", figures.report.get("status", "-"))]
        if "rows" in figures.report and not figures.reconciliation:
            rows += [("report rows", figures.report["rows"])]
    if figures.reconciliation:
        rows += [(name.replace("_", " "), value) for name, value in figures.reconciliation.items()]
    if figures.sweep:
        rows += [
            ("attempts recovered by sweeps", figures.sweep.get("attempts_recovered") or 0),
            ("numbers recovered by sweeps", figures.sweep.get("numbers_recovered") or 0),
        ]
    if not rows:
        return (
            '<p class="muted" id="reconciliation">Not reconciled yet: no report and no sweep.</p>'
        )
    body = "".join(
        f'<tr><th>{_e(name)}</th><td class="n">{_e(value)}</td></tr>' for name, value in rows
    )
    return f'<table id="reconciliation">{body}</table>'


def figures_rows(rates: Iterable[Rate]) -> list[tuple[int, int, int]]:
    """Rates as (key, attempts, connected): what the tests and the demo compare."""
    return [(rate.key, rate.attempts, rate.connected) for rate in rates]
