"""openapi.yaml's schemas, to check a body the read API answered against its description."""

from __future__ import annotations

from functools import cache
from typing import Any

import jsonschema
import yaml

from localaws.template import PROJECT_ROOT

SPEC = PROJECT_ROOT / "openapi.yaml"


@cache
def _components() -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load(SPEC.read_text())
    components: dict[str, Any] = spec["components"]
    return components


def assert_described(schema: str, body: Any) -> None:
    """Raise if `body` is not what components/schemas/<schema> describes (OpenAPI 3.1 schemas
    are JSON Schema 2020-12)."""
    wrapper = {"$ref": f"#/components/schemas/{schema}", "components": _components()}
    jsonschema.Draft202012Validator(wrapper).validate(body)
