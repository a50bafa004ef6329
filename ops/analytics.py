"""`make analytics CAMPAIGN=<sid> [QUERY=<name>] [PREVIOUS=5] [LOCAL=1]`: the questions in
analytics/queries, asked of the analytics dataset (docs/architecture.md, "The analytics
dataset").

The queries are written once, in Athena's dialect (Trino). Against a deployed stack they run in
its workgroup, as its named queries; against `make local`'s stack the dataset's objects are
read from the emulated S3 and the same text, transpiled by sqlglot, runs in DuckDB
(localaws/analytics.py).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from localaws.analytics import LocalDataset, Query, Table, queries

if TYPE_CHECKING:
    from mypy_boto3_athena import AthenaClient

DEFAULT_PREVIOUS = 5


class AnalyticsError(Exception):
    """A query cannot be asked: an unknown name, a bad parameter, Athena refused it."""


def chosen(name: str | None, previous: int = DEFAULT_PREVIOUS) -> list[Query]:
    """The queries asked for (all without a name)."""
    if previous < 0:
        raise AnalyticsError(f"PREVIOUS={previous}: a count of earlier campaigns, 0 or more")
    known = queries()
    if name is None:
        return list(known.values())
    if name not in known:
        raise AnalyticsError(f"no query named {name!r}; the queries: {', '.join(known)}")
    return [known[name]]


class AthenaDataset:
    """The deployed stack's dataset, asked through its workgroup."""

    def __init__(
        self, client: AthenaClient, workgroup: str, database: str, poll_seconds: float = 1.0
    ) -> None:
        self.client, self.workgroup, self.database = client, workgroup, database
        self.poll_seconds = poll_seconds

    def run(self, query: Query, arguments: Sequence[str | int]) -> Table:
        request: dict[str, Any] = {
            "QueryString": query.text,
            "QueryExecutionContext": {"Database": self.database},
            "WorkGroup": self.workgroup,
        }
        if arguments:
            request["ExecutionParameters"] = [_literal(argument) for argument in arguments]
        started = self.client.start_query_execution(**request)
        execution_id = started["QueryExecutionId"]
        while True:
            status = self.client.get_query_execution(QueryExecutionId=execution_id)
            state = status["QueryExecution"]["Status"]
            if state["State"] == "SUCCEEDED":
                break
            if state["State"] in ("FAILED", "CANCELLED"):
                reason = state.get("StateChangeReason", state["State"])
                raise AnalyticsError(f"{query.name}: Athena says {reason}")
            time.sleep(self.poll_seconds)
        return self._results(execution_id)

    def _results(self, execution_id: str) -> Table:
        columns: list[str] = []
        rows: list[tuple[Any, ...]] = []
        pages = self.client.get_paginator("get_query_results").paginate(
            QueryExecutionId=execution_id
        )
        for number, page in enumerate(pages):
            result = page["ResultSet"]
            if not columns:
                columns = [c["Name"] for c in result["ResultSetMetadata"]["ColumnInfo"]]
            data = result["Rows"][1:] if number == 0 else result["Rows"]  # the header row
            rows += [tuple(cell.get("VarCharValue") for cell in row["Data"]) for row in data]
        return Table(columns, rows)


def _literal(argument: str | int) -> str:
    """An execution parameter as Athena substitutes it: text quoted, numbers as they are."""
    if isinstance(argument, int):
        return str(argument)
    return "'" + argument.replace("'", "''") + "'"


def analytics_report(
    dataset: LocalDataset | AthenaDataset, asked: list[Query], campaign_sid: str, previous: int
) -> str:
    """Each query's description and answer, as text tables."""
    parts = []
    for query in asked:
        table = dataset.run(query, query.arguments(campaign_sid, previous))
        parts.append(f"# {query.name}: {query.description}\n{table.render()}")
    return "\n\n".join(parts)
