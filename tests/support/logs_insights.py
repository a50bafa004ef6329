"""Just enough of CloudWatch Logs Insights to run the template's saved queries over captured
log lines: `fields`, `filter` (=, !=, <, >, in, like, ispresent, and, or, not, parentheses),
`stats <aggregate>(...) [as name], ... by ...`, `sort`, `limit`.

It also says what each query expects of the lines: the fields it filters, groups and
aggregates on, and the type each must have. It is strict where Logs Insights is lenient (a
number never equals a string), so a query passes here only if it would find the lines in AWS.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

type Line = Mapping[str, Any]
type Predicate = Callable[[Line], bool]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<regex>/(?:[^/\\]|\\.)+/)
      | (?P<number>-?\d+(?:\.\d+)?(?![\w]))
      | (?P<op>!=|>=|<=|=|<|>|\(|\)|\[|\]|,|\*)
      | (?P<name>[@\w][\w.@-]*)
    )""",
    re.VERBOSE,
)
_NUMERIC_AGGREGATES = frozenset({"pct", "avg", "sum", "min", "max", "stddev"})
_ANY_AGGREGATES = frozenset({"count", "count_distinct", "latest", "earliest"})
_COMPARISONS = frozenset({"=", "!=", "<", ">", "<=", ">="})


@dataclass
class Expectations:
    """What a query needs of the lines it reads: field name -> the types that fit."""

    filtered: dict[str, tuple[type, ...]] = field(default_factory=dict)
    grouped: set[str] = field(default_factory=set)
    aggregated: dict[str, tuple[type, ...]] = field(default_factory=dict)
    displayed: list[str] = field(default_factory=list)


@dataclass
class Query:
    text: str
    predicates: list[Predicate]
    expects: Expectations

    def matching(self, lines: Iterable[Line]) -> list[Line]:
        return [line for line in lines if all(predicate(line) for predicate in self.predicates)]


def parse(text: str) -> Query:
    expects = Expectations()
    predicates: list[Predicate] = []
    for command in _commands(text):
        verb, _, rest = command.strip().partition(" ")
        if verb == "fields":
            expects.displayed += [name.strip() for name in rest.split(",")]
        elif verb == "filter":
            parser = _FilterParser(_tokens(rest), expects)
            predicates.append(parser.expression())
            parser.expect_end()
        elif verb == "stats":
            _stats(rest, expects)
        elif verb not in ("sort", "limit", "display"):
            raise ValueError(f"unsupported Logs Insights command: {verb}")
    return Query(text, predicates, expects)


def value_of(line: Line, name: str) -> Any:
    if name.startswith("@"):  # @timestamp, @message, ...: CloudWatch gives every event these
        return f"<{name}>"
    value: Any = line
    for part in name.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def has_type(value: object, types: tuple[type, ...]) -> bool:
    if isinstance(value, bool):
        return bool in types
    return isinstance(value, types)


def _commands(text: str) -> list[str]:
    """Split on the pipes that separate commands (not those inside strings or regexes)."""
    commands: list[str] = []
    current: list[str] = []
    quote: str | None = None
    for character in text:
        if quote:
            quote = None if character == quote else quote
        elif character in '"/':
            quote = character
        elif character == "|":
            commands.append("".join(current))
            current = []
            continue
        current.append(character)
    commands.append("".join(current))
    return [command for command in commands if command.strip()]


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise ValueError(f"cannot read {text[position:]!r}")
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind)))
        position = match.end()
        while position < len(text) and text[position].isspace():
            position += 1
    return tokens


def _literal(kind: str, text: str) -> object:
    if kind == "string":
        return text[1:-1].replace('\\"', '"')
    if kind == "number":
        return float(text) if "." in text else int(text)
    raise ValueError(f"not a literal: {text}")


class _FilterParser:
    def __init__(self, tokens: list[tuple[str, str]], expects: Expectations) -> None:
        self.tokens = tokens
        self.position = 0
        self.expects = expects

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1].lower() != value):
            raise ValueError(f"expected {value or 'more'} at {token}")
        self.position += 1
        return token

    def expect_end(self) -> None:
        if self.peek() is not None:
            raise ValueError(f"unexpected {self.peek()}")

    def expression(self) -> Predicate:
        terms = [self.conjunction()]
        while (token := self.peek()) and token[1].lower() == "or":
            self.take()
            terms.append(self.conjunction())
        return lambda line: any(term(line) for term in terms)

    def conjunction(self) -> Predicate:
        terms = [self.unary()]
        while (token := self.peek()) and token[1].lower() == "and":
            self.take()
            terms.append(self.unary())
        return lambda line: all(term(line) for term in terms)

    def unary(self) -> Predicate:
        token = self.peek()
        if token and token[1].lower() == "not":
            self.take()
            inner = self.unary()
            return lambda line: not inner(line)
        if token and token[1] == "(":
            self.take()
            inner = self.expression()
            self.take(")")
            return inner
        return self.comparison()

    def comparison(self) -> Predicate:
        kind, name = self.take()
        if kind != "name":
            raise ValueError(f"expected a field, got {name}")
        if name.lower() == "ispresent":
            self.take("(")
            _, field_name = self.take()
            self.take(")")
            self.expects.filtered.setdefault(field_name, (object,))
            return lambda line: value_of(line, field_name) is not None
        _, operator = self.take()
        operator = operator.lower()
        if operator == "in":
            values = self.literal_list()
            self.expects.filtered[name] = tuple({type(value) for value in values})
            return lambda line: _strictly_in(value_of(line, name), values)
        if operator == "like":
            pattern_kind, pattern = self.take()
            regex = re.compile(
                pattern[1:-1]
                if pattern_kind == "regex"
                else re.escape(str(_literal("string", pattern)))
            )
            self.expects.filtered[name] = (str,)
            return lambda line: (
                isinstance(value_of(line, name), str) and bool(regex.search(value_of(line, name)))
            )
        if operator not in _COMPARISONS:
            raise ValueError(f"unsupported operator {operator}")
        value = _literal(*self.take())
        expected: tuple[type, ...] = (str,) if isinstance(value, str) else (int, float)
        self.expects.filtered[name] = expected
        return lambda line: _compare(value_of(line, name), operator, value, expected)

    def literal_list(self) -> list[object]:
        self.take("[")
        values = [_literal(*self.take())]
        while (token := self.peek()) and token[1] == ",":
            self.take()
            values.append(_literal(*self.take()))
        self.take("]")
        return values


def _strictly_in(value: object, values: list[object]) -> bool:
    return any(type(value) is type(candidate) and value == candidate for candidate in values)


def _compare(value: object, operator: str, literal: object, expected: tuple[type, ...]) -> bool:
    if not has_type(value, expected) or isinstance(value, bool):
        return False
    operations: dict[str, Callable[[Any, Any], bool]] = {
        "=": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        "<": lambda a, b: a < b,
        ">": lambda a, b: a > b,
        "<=": lambda a, b: a <= b,
        ">=": lambda a, b: a >= b,
    }
    return operations[operator](value, literal)


def _stats(text: str, expects: Expectations) -> None:
    parts = re.split(r"\s+by\s+", text, maxsplit=1)
    aggregates, groups = parts[0], parts[1] if len(parts) > 1 else ""
    for function, arguments in re.findall(r"(\w+)\(([^)]*)\)", aggregates):
        first = arguments.split(",")[0].strip()
        if function in _NUMERIC_AGGREGATES:
            expects.aggregated[first] = (int, float)
        elif function in _ANY_AGGREGATES:
            if first != "*":
                expects.aggregated.setdefault(first, (object,))
        else:
            raise ValueError(f"unsupported aggregate {function}")
    for group in (group.strip() for group in groups.split(",")):
        if group and not group.startswith("bin("):
            expects.grouped.add(group)
