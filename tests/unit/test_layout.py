"""The code's floor plan holds (docs/architecture.md, "Code layout"): one module owns the table's
keys and expressions, and every handler is wiring only."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src/exotel_webhooks"
TABLE = PACKAGE / "ledger/table.py"
HANDLERS = sorted((ROOT / "functions").glob("*/*.py"))

# What only the table module may spell: key attributes, key prefixes and sort keys, and the
# parameters of DynamoDB requests that carry expressions or keys.
KEY_SPELLINGS = re.compile(
    r"""["'](PK|SK|GSI1PK|GSI1SK|OUTCOME)["']"""
    r"""|["'](CAMPAIGN|ATTEMPT|NUMBER|CALLS|COUNTER|SUMMARY|CAMPAIGN_STATUS)#"""
    r"""|#(NUMBER|CALLS|COUNTER|SUMMARY)\b"""
    r"""|\b(KeyConditionExpression|ConditionExpression|UpdateExpression|FilterExpression"""
    r"""|ProjectionExpression|ExpressionAttributeNames|ExclusiveStartKey|RequestItems)\b"""
)


def _code_lines(path: Path) -> list[tuple[int, str]]:
    """The lines of a module outside its docstrings and comments."""
    tree = ast.parse(path.read_text())
    docstrings = {
        line
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
        for line in range(node.lineno, (node.end_lineno or node.lineno) + 1)
    }
    return [
        (number, line.split("  #")[0])
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if number not in docstrings and not line.lstrip().startswith("#")
    ]


@pytest.mark.parametrize(
    "module",
    [
        path
        for folder in (PACKAGE, ROOT / "ops", ROOT / "functions")
        for path in sorted(folder.rglob("*.py"))
        if path != TABLE
    ],
    ids=lambda path: str(path.relative_to(ROOT)),
)
def test_only_the_table_module_spells_a_key_or_an_expression(module: Path) -> None:
    # Given any module of the product other than ledger/table.py
    # Then none of its code names a key attribute, a key prefix or a DynamoDB expression
    spelled = [
        f"{module.relative_to(ROOT)}:{number}: {line.strip()}"
        for number, line in _code_lines(module)
        if KEY_SPELLINGS.search(line)
    ]
    assert spelled == []


def test_the_table_module_does_spell_them() -> None:
    # The check above would pass vacuously if the pattern matched nothing at all
    assert any(KEY_SPELLINGS.search(line) for _, line in _code_lines(TABLE))


@pytest.mark.parametrize("handler", HANDLERS, ids=lambda path: path.parent.name)
def test_every_handler_is_wiring_and_one_adapter(handler: Path) -> None:
    # Given a function's handler module
    tree = ast.parse(handler.read_text())

    # Then it defines no function or class of its own (behaviour lives in the package) ...
    definitions = [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    ]
    assert definitions == []
    # ... and its `handler` is what one of the package's adapters returns
    handler_assignment = next(
        node
        for node in tree.body
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "handler" for t in node.targets)
    )
    assert isinstance(handler_assignment.value, ast.Call)
    adapter = handler_assignment.value.func
    assert isinstance(adapter, ast.Name)
    assert adapter.id.endswith("_handler")


def test_every_handler_directory_holds_one_module() -> None:
    assert len(HANDLERS) == len(list((ROOT / "functions").iterdir())) == 8
