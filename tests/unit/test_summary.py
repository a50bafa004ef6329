"""A campaign's summary page (views/summary.py): its figures and the page itself."""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from exotel_webhooks.views.summary import campaign_figures, figures_rows, summary_html

IST = ZoneInfo("Asia/Kolkata")


def attempt(call_sid: str, number: str, status: str, dialled: str) -> dict[str, Any]:
    return {
        "call_sid": call_sid,
        "number": number,
        "status": status,
        "date_created": dialled,
        "received_at": dialled.replace(" ", "T") + "+05:30",
    }


def view(sid: str = "camp_1", **counts: int) -> dict[str, Any]:
    return {
        "campaign_sid": sid,
        "status": "Completed",
        "date_created": "2026-11-30 08:00:00",
        "date_updated": "2026-11-30 12:00:00",
        "numbers": {"total": sum(counts.values()), "by_status": counts},
        "attempts": {"total": 7, "by_status": {"busy": 3, "completed": 3, "no-answer": 1}},
        "report": {"status": "stored", "rows": 3, "fetched_at": "2026-11-30T07:05:00+00:00"},
        "reconciliation": {"source": "report", "report_rows": 3, "matched": 3},
        "sweep": None,
    }


ATTEMPTS = [
    attempt("c1", "+919800000001", "busy", "2026-11-30 09:10:00"),
    attempt("c2", "+919800000001", "completed", "2026-11-30 11:10:00"),
    attempt("c3", "+919800000002", "busy", "2026-11-30 09:20:00"),
    attempt("c4", "+919800000002", "no-answer", "2026-11-30 11:20:00"),
    # a masked number's retries, each stored under its own call SID
    attempt("m1", "0XXXXXX4890@m1", "busy", "2026-11-30 09:30:00"),
    attempt("m2", "0XXXXXX4890@m2", "busy", "2026-11-30 10:30:00"),
    attempt("m3", "0XXXXXX4890@m3", "completed", "2026-11-30 11:30:00"),
]
OUTCOMES = {
    "+919800000001": {"status": "completed", "call_sids": ["c1", "c2"]},
    "+919800000002": {"status": "no-answer", "call_sids": ["c3", "c4"]},
    "0XXXXXX4890@m1": {"status": "completed", "call_sids": ["m1", "m2", "m3"]},
}


def test_the_figures_count_by_hour_attempt_and_connect() -> None:
    mix = {"completed": 2, "no-answer": 1}
    figures = campaign_figures(view("camp_1", **mix), ATTEMPTS, OUTCOMES, IST)
    assert figures_rows(figures.by_hour) == [(9, 3, 0), (10, 1, 0), (11, 3, 2)]
    # the masked number's three retries are one number's first, second and third
    assert figures_rows(figures.by_attempt) == [(1, 3, 0), (2, 3, 1), (3, 1, 1)]
    assert figures.attempts_per_connect == {2: 1, 3: 1}
    assert [m.what for m in figures.timeline] == [
        "campaign created",
        "first call dialled",
        "last call dialled",
        "campaign Completed",
        "report fetched and reconciled",
    ]


def test_the_page_is_self_contained_escaped_and_names_no_one() -> None:
    # Given a campaign whose SID is hostile markup
    mix = {"completed": 2, "no-answer": 1}
    figures = campaign_figures(view("<script>alert(1)</script>", **mix), ATTEMPTS, OUTCOMES, IST)

    # When its page is made
    page = summary_html(figures)

    # Then nothing is fetched from anywhere and nothing runs (the SVG namespace is a name)
    assert "<script" not in page
    assert not re.search(r"\b(src|href)=|@import|url\(", page)
    assert set(re.findall(r"https?://[^\"' ]+", page)) == {"http://www.w3.org/2000/svg"}
    assert "&lt;script&gt;" in page
    # and no phone number is on it
    assert "9800000001" not in page
    assert "4890" not in page
    # and each chart is drawn with the figures' values
    assert 'data-key="11" data-attempts="3" data-connected="2"' in page
    assert 'data-label="completed" data-value="2"' in page


def test_times_no_zone_can_show_are_left_out_not_a_crash() -> None:
    edge = [attempt("c1", "+919800000001", "busy", "0001-01-01T00:00:00+14:00")]
    figures = campaign_figures(view(), edge, {}, IST)
    assert figures.by_hour == []
    assert "first call dialled" not in [m.what for m in figures.timeline]


def test_a_campaign_without_attempts_says_so_instead_of_drawing_nothing() -> None:
    page = summary_html(campaign_figures(view(), [], {}, IST))
    assert page.count("Nothing to draw yet.") == 4  # outcomes, two rates, attempts per connect
    assert "Campaign camp_1" in page


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["completed", "busy", "no-answer", "failed", "in-progress"]),
            st.integers(0, 23),
            st.integers(1, 5),
        ),
        max_size=40,
    )
)
def test_every_final_attempt_is_counted_once_by_hour_and_by_attempt(
    calls: list[tuple[str, int, int]],
) -> None:
    attempts = [
        attempt(f"c{i}", f"+91980000000{n}", status, f"2026-11-30 {hour:02d}:00:00")
        for i, (status, hour, n) in enumerate(calls)
    ]
    figures = campaign_figures(view(), attempts, {}, IST)
    final = [c for c in calls if c[0] != "in-progress"]
    for rates in (figures.by_hour, figures.by_attempt):
        assert sum(r.attempts for r in rates) == len(final)
        assert sum(r.connected for r in rates) == sum(c[0] == "completed" for c in final)
