"""The code's floor plan holds (docs/architecture.md, "Code layout"): one module owns the table's
keys, one its expressions, and every handler is wiring only."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src/exotel_webhooks"
KEYS = PACKAGE / "ledger/keys.py"
TABLE = PACKAGE / "ledger/table.py"
HANDLERS = sorted((ROOT / "functions").glob("*/*.py"))

# What only ledger/keys.py may spell: key attributes, key prefixes and sort keys.
KEY_SPELLINGS = re.compile(
    r"""["'](PK|SK|GSI1PK|GSI1SK|OUTCOME)["']"""
    r"""|["'](CAMPAIGN|ATTEMPT|NUMBER|CALLS|COUNTER|SUMMARY|CAMPAIGN_STATUS|ERASED)#"""
    r"""|#(NUMBER|CALLS|COUNTER|SUMMARY)\b"""
)
# What only ledger/table.py may spell: the parameters of DynamoDB requests that carry
# expressions or keys.
EXPRESSIONS = re.compile(
    r"""\b(KeyConditionExpression|ConditionExpression|UpdateExpression|FilterExpression"""
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


PRODUCT = [
    path for folder in (PACKAGE, ROOT / "ops", ROOT / "functions") for path in folder.rglob("*.py")
]


def _spelled(module: Path, pattern: re.Pattern[str]) -> list[str]:
    return [
        f"{module.relative_to(ROOT)}:{number}: {line.strip()}"
        for number, line in _code_lines(module)
        if pattern.search(line)
    ]


@pytest.mark.parametrize(
    "module", sorted(set(PRODUCT) - {KEYS}), ids=lambda path: str(path.relative_to(ROOT))
)
def test_only_the_keys_module_spells_a_key(module: Path) -> None:
    # Given any module of the product other than ledger/keys.py
    # Then none of its code names a key attribute, a key prefix or a sort key
    assert _spelled(module, KEY_SPELLINGS) == []


@pytest.mark.parametrize(
    "module", sorted(set(PRODUCT) - {TABLE}), ids=lambda path: str(path.relative_to(ROOT))
)
def test_only_the_table_module_spells_an_expression(module: Path) -> None:
    # Given any module of the product other than ledger/table.py
    # Then none of its code sends a DynamoDB expression or paging key of its own
    assert _spelled(module, EXPRESSIONS) == []


def test_the_owners_do_spell_them() -> None:
    # The checks above would pass vacuously if the patterns matched nothing at all
    assert _spelled(KEYS, KEY_SPELLINGS)
    assert _spelled(TABLE, EXPRESSIONS)


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
    assert len(HANDLERS) == len(list((ROOT / "functions").iterdir())) == 13


def _package_imports(module: Path, source: str | None = None) -> set[str]:
    """The package's top-level parts a module imports (`ledger`, `vocabulary`, ...), however it
    spells the import: `import exotel_webhooks.x`, `from exotel_webhooks.x import y`,
    `from exotel_webhooks import x`, or relative (`from ..x import y`)."""
    package = module.relative_to(PACKAGE.parent).with_suffix("").parts[:-1]
    modules: set[str] = set()
    for node in ast.walk(ast.parse(module.read_text() if source is None else source)):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative to the module's own package
                parent = package[: len(package) - node.level + 1]
                base = ".".join([*parent, *([base] if base else [])])
            modules |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    return {
        name.split(".")[1]
        for name in modules
        if name.startswith("exotel_webhooks.") and len(name.split(".")) > 1
    }


def _part(module: Path) -> str:
    relative = module.relative_to(PACKAGE)
    return relative.parts[0].removesuffix(".py")


# What each part of the package may import of the others (docs/architecture.md, "Code layout":
# dependencies run one way). A part imports itself freely.
MAY_IMPORT: dict[str, set[str]] = {
    "vocabulary": set(),
    "normalise": set(),
    "settings": {"normalise"},
    "observability": set(),
    "messages": {"vocabulary"},
    "notifications": {"messages", "observability"},
    "aws": set(),
    "intake": {"vocabulary", "normalise", "settings", "observability"},
    "ledger": {"vocabulary", "normalise", "settings", "observability", "messages", "notifications"},
    "batches": {"vocabulary", "observability", "messages", "ledger"},
    "reports": {
        "vocabulary",
        "normalise",
        "settings",
        "observability",
        "messages",
        "notifications",
        "ledger",
        "batches",
        "aws",
    },
    "sweep": {
        "vocabulary",
        "normalise",
        "settings",
        "observability",
        "ledger",
        "reports",
        "aws",
        "notifications",
    },
    "views": {"normalise", "settings", "observability", "ledger", "aws"},
    "analytics": {"normalise", "observability", "ledger"},
}


@pytest.mark.parametrize(
    "module",
    sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE),
    ids=lambda path: str(path.relative_to(PACKAGE)),
)
def test_dependencies_run_one_way(module: Path) -> None:
    # Given a module of the package, and the part of it that it belongs to
    part = _part(module)

    # Then it imports only the parts below its own
    assert _package_imports(module) - {part} <= MAY_IMPORT[part]


DOCUMENTED_LAYOUT = re.compile(r"## Code layout\n\n```\n(.*?)```", re.S)


def _documented_paths() -> list[str]:
    """The files and folders docs/architecture.md's code layout names, from the project root."""
    block = DOCUMENTED_LAYOUT.search((ROOT / "docs/architecture.md").read_text())
    assert block is not None
    folders: list[str] = []
    paths = []
    for line in block.group(1).splitlines():
        indent = len(line) - len(line.lstrip())
        if indent >= 20 or not line.strip():  # a description carried onto the next line
            continue
        depth = indent // 2
        names = line.strip().split("  ")[0]
        folders = folders[:depth]
        for name in names.split(", "):
            paths.append("".join(folders) + name)
        if names.endswith("/"):
            folders.append(names)
    return paths


def test_the_documented_code_layout_names_only_what_exists() -> None:
    # Given the code layout docs/architecture.md shows
    paths = _documented_paths()

    # Then each file and folder it names exists (a <placeholder> stands for any folder there)
    missing = [
        path
        for path in paths
        if not (
            list(ROOT.glob(re.sub(r"<\w+>", "*", path).rstrip("/")))
            if "<" in path
            else (ROOT / path).exists()
        )
    ]
    assert missing == []
    assert len(paths) > 40  # and it was read at all


def test_the_documented_code_layout_names_every_module_of_the_package() -> None:
    # Given the package's modules and the paths the documented layout names
    documented = set(_documented_paths())
    modules = {
        str(path.relative_to(ROOT)) for path in PACKAGE.rglob("*.py") if path.name != "__init__.py"
    }

    # Then each module is named at its place in the layout
    assert sorted(modules - documented) == []


def test_the_import_reader_sees_every_spelling_of_an_import() -> None:
    # Given a module of ledger/ importing three parts of the package three ways
    source = (
        "import exotel_webhooks.sweep.due\n"
        "from exotel_webhooks import intake\n"
        "from ..reports import fetcher\n"
    )

    # When its imports are read, Then all three parts are seen
    assert _package_imports(PACKAGE / "ledger/example.py", source) == {"sweep", "intake", "reports"}
