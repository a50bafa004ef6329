"""Each function's log lines into its log group of the emulated CloudWatch Logs, as Lambda ships
a function's output, so the operations commands read local logs exactly as they read AWS's.

What a function prints during an invocation (its EMF metric lines) goes only to its log group,
as in Lambda; logger lines also still reach the terminal."""

from __future__ import annotations

import contextlib
import io
import logging
import queue
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient

STREAM = "local"


class LogShipper(logging.Handler):
    def __init__(self, logs: CloudWatchLogsClient, groups: dict[str, str]) -> None:
        """`groups`: function logical id -> its log group name."""
        super().__init__()
        self.logs = logs
        self.groups = groups
        self.current = threading.local()
        self.pending: queue.SimpleQueue[tuple[str, int, str]] = queue.SimpleQueue()
        for group in groups.values():
            with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
                logs.create_log_stream(logGroupName=group, logStreamName=STREAM)

    @contextlib.contextmanager
    def invoking(self, function: str) -> Iterator[None]:
        """Lines logged by this thread meanwhile belong to `function`."""
        self.current.function = function
        try:
            yield
        finally:
            self.current.function = None

    def emit(self, record: logging.LogRecord) -> None:
        function = getattr(self.current, "function", None)
        if function in self.groups:
            self.pending.put((function, int(record.created * 1000), self.format(record)))

    def capture_prints(self) -> None:
        """Route print() output of invocations (in any thread) to their log groups."""
        sys.stdout = _PrintRouter(self, sys.stdout)

    def release_prints(self) -> None:
        if isinstance(sys.stdout, _PrintRouter) and sys.stdout.shipper is self:
            sys.stdout = sys.stdout.terminal

    def printed(self, text: str) -> bool:
        """Keep `text` if this thread is in an invocation; False if it is not."""
        function = getattr(self.current, "function", None)
        if function not in self.groups:
            return False
        now = int(time.time() * 1000)
        for line in text.splitlines():
            if line.strip():
                self.pending.put((function, now, line))
        return True

    def ship(self) -> int:
        """Send what is pending; returns how many lines."""
        batches: dict[str, list[tuple[int, str]]] = defaultdict(list)
        while True:
            try:
                function, timestamp, line = self.pending.get_nowait()
            except queue.Empty:
                break
            batches[function].append((timestamp, line))
        for function, lines in batches.items():
            self.logs.put_log_events(
                logGroupName=self.groups[function],
                logStreamName=STREAM,
                logEvents=[{"timestamp": t, "message": m} for t, m in sorted(lines)],
            )
        return sum(len(lines) for lines in batches.values())

    def ship_forever(self, stopping: threading.Event, every_seconds: float = 1.0) -> None:
        while not stopping.wait(every_seconds):
            with contextlib.suppress(Exception):  # the emulator stopping under us, say
                self.ship()
        self.ship()


class _PrintRouter(io.TextIOBase):
    def __init__(self, shipper: LogShipper, terminal: TextIO) -> None:
        self.shipper = shipper
        self.terminal = terminal

    def write(self, text: str) -> int:
        if not self.shipper.printed(text):
            self.terminal.write(text)
        return len(text)

    def flush(self) -> None:
        self.terminal.flush()
