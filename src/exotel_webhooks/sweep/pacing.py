"""Turns at Exotel's API (docs/architecture.md, "Pacing"): an account allows so many requests a
minute (30 by default, ExotelApiRequestsPerMinute), whoever makes them. Each request takes the
next free turn, one every 60 / per_minute seconds, and none is taken before a moment the API
asked to be left alone until (429 Retry-After).

`Pacer` keeps the turns in one process; `SharedPacer` keeps them in the campaign table, so the
sweep, the call details function and `make sweep` / `make enrich` from a laptop share one
account's turns.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol


class Turns(Protocol):
    def wait(self) -> None:
        """Block until this request's turn."""

    def hold(self, seconds: float) -> None:
        """No turn before `seconds` from now (the API asked for it)."""


class Pacer:
    """The turns of one process."""

    def __init__(
        self,
        per_minute: float,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = 60 / per_minute
        self.sleep, self.monotonic = sleep, monotonic
        self.next_at = float("-inf")

    def wait(self) -> None:
        now = self.monotonic()
        if now < self.next_at:
            self.sleep(self.next_at - now)
            now = self.next_at
        self.next_at = now + self.interval

    def hold(self, seconds: float) -> None:
        self.next_at = max(self.next_at, self.monotonic() + seconds)


class TurnBook(Protocol):
    """Where shared turns are kept (ledger/table.py: one item per account)."""

    def take_turn(self, account: str, interval: float, now: float) -> float: ...

    def hold_turns(self, account: str, until: float) -> None: ...


class SharedPacer:
    """The turns of every process using one account, kept in `book`; times are epoch seconds,
    as every process's clock reads them."""

    def __init__(
        self,
        book: TurnBook,
        account: str,
        per_minute: float,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.book, self.account = book, account
        self.interval = 60 / per_minute
        self.sleep, self.clock = sleep, clock

    def wait(self) -> None:
        now = self.clock()
        turn = self.book.take_turn(self.account, self.interval, now)
        if turn > now:
            self.sleep(turn - now)

    def hold(self, seconds: float) -> None:
        self.book.hold_turns(self.account, self.clock() + seconds)
