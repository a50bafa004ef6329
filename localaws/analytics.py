"""The analytics questions (analytics/queries/*.sql, Athena's dialect) and the laptop's engine
for them: the dataset's objects read into DuckDB, each query transpiled by sqlglot (docs/
architecture.md, "The analytics dataset"). `make analytics` (ops/analytics.py) and `make demo`
ask through it; the table's columns come from the template's Glue table, the one place they are
declared."""

from __future__ import annotations

import gzip
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlglot
from sqlglot import exp

from localaws.template import PROJECT_ROOT, Template

if TYPE_CHECKING:
    import duckdb
    from mypy_boto3_s3 import S3Client

QUERIES = PROJECT_ROOT / "analytics" / "queries"
DATASET_TABLE = "AnalyticsLedgerRowsTable"
ROWS_PREFIX = "analytics/ledger_rows/"
_DUCKDB_TYPES = {
    "string": "VARCHAR",
    "boolean": "BOOLEAN",
    "int": "INTEGER",
    "bigint": "BIGINT",
    "double": "DOUBLE",
}
_ARRAY = re.compile(r"array<(\w+)>")


@dataclass(frozen=True)
class Query:
    name: str
    description: str  # the file's first line
    text: str  # Athena's dialect, exactly as the named query holds it

    @property
    def parameters(self) -> int:
        return len(list(sqlglot.parse_one(self.text, read="trino").find_all(exp.Placeholder)))

    def arguments(self, campaign_sid: str, previous: int) -> list[str | int]:
        """The campaign first, then (comparisons) how many earlier campaigns."""
        given: list[str | int] = [campaign_sid, previous]
        return given[: self.parameters]

    @cache  # noqa: B019 - a handful of queries, read once per process
    def in_duckdb(self) -> str:
        return sqlglot.transpile(self.text, read="trino", write="duckdb")[0]


def queries(directory: Path = QUERIES) -> dict[str, Query]:
    found = {}
    for path in sorted(directory.glob("*.sql")):
        text = path.read_text()
        found[path.stem] = Query(path.stem, text.splitlines()[0].removeprefix("-- "), text)
    return found


@dataclass(frozen=True)
class Table:
    """A query's answer."""

    columns: list[str]
    rows: list[tuple[Any, ...]]

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def render(self) -> str:
        cells = [self.columns, *[["" if v is None else _text(v) for v in row] for row in self.rows]]
        widths = [max(len(row[i]) for row in cells) for i in range(len(self.columns))]
        lines = ["  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines) if self.rows else "\n".join([*lines, "(no rows)"])


def _text(value: object) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def dataset_columns(template: Template | None = None) -> dict[str, str]:
    """The dataset's columns and their Hive types, as the template's Glue table declares them."""
    table = (template or Template.load()).resources[DATASET_TABLE]
    columns = table["Properties"]["TableInput"]["StorageDescriptor"]["Columns"]
    return {column["Name"]: column["Type"] for column in columns}


def _duckdb_type(hive: str) -> str:
    array = _ARRAY.fullmatch(hive)
    return f"{_DUCKDB_TYPES[array.group(1)]}[]" if array else _DUCKDB_TYPES[hive]


class LocalDataset:
    """The dataset's objects in a directory, as the table `ledger_rows` of an in-memory DuckDB."""

    def __init__(self, directory: Path, columns: Mapping[str, str] | None = None) -> None:
        import duckdb  # noqa: PLC0415 - only the local engine needs it

        self.connection: duckdb.DuckDBPyConnection = duckdb.connect()
        types = {name: _duckdb_type(hive) for name, hive in (columns or dataset_columns()).items()}
        (directory / "empty.json").touch()  # no object yet is an empty table, not an error
        rows = self.connection.read_json(
            str(directory / "*.json"), format="newline_delimited", columns=types
        )
        rows.create_view("ledger_rows")

    def run(self, query: Query, arguments: Sequence[str | int]) -> Table:
        cursor = self.connection.execute(query.in_duckdb(), list(arguments))
        columns = [description[0] for description in cursor.description or []]
        return Table(columns, [tuple(row) for row in cursor.fetchall()])


def download_dataset(s3: S3Client, bucket: str, directory: Path) -> int:
    """Every object of the dataset into `directory`, as newline-delimited JSON. Returns how
    many."""
    count = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=ROWS_PREFIX):
        for stored in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=stored["Key"])["Body"].read()
            if body[:2] == b"\x1f\x8b":
                body = gzip.decompress(body)
            (directory / f"{count:06d}.json").write_bytes(body)
            count += 1
    return count


@contextmanager
def local_dataset(s3: S3Client, bucket: str) -> Iterator[LocalDataset]:
    with tempfile.TemporaryDirectory(prefix="analytics-") as directory:
        download_dataset(s3, bucket, Path(directory))
        yield LocalDataset(Path(directory))
