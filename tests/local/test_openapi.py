"""openapi.yaml: the same routes as template.yaml, and schemathesis against the local stack."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from localaws.template import PROJECT_ROOT, Template
from tests.support.local_stack import running_local_stack

TOKEN = "openapi-test-token"
BASIC = "Basic " + base64.b64encode(f"exotel:{TOKEN}".encode()).decode()
SPEC = PROJECT_ROOT / "openapi.yaml"


def template_routes(template: Template) -> set[str]:
    return {
        f"{event['Properties']['Method'].upper()} {event['Properties']['Path']}"
        for function in template.resources_of_type("AWS::Serverless::Function").values()
        for event in function["Properties"].get("Events", {}).values()
        if event["Type"] == "HttpApi"
    }


def test_the_description_has_exactly_the_templates_routes(template: Template) -> None:
    spec: dict[str, Any] = yaml.safe_load(SPEC.read_text())
    described = {
        f"{method.upper()} {path}"
        for path, operations in spec["paths"].items()
        for method in operations
    }
    assert described == template_routes(template)


@pytest.fixture(scope="module")
def local_api() -> Iterator[str]:
    with running_local_stack(TOKEN) as (_, base):
        yield base


@pytest.fixture(scope="module")
def api_schema(local_api: str) -> Any:
    schema = schemathesis.openapi.from_path(str(SPEC))
    schema.config.update(base_url=local_api)
    return schema


@pytest.mark.enable_socket
def test_the_local_stack_answers_as_the_description_says(api_schema: Any) -> None:
    # Given every operation of the description (schemathesis' own pytest plugin does not run on
    # this pytest, so its strategies are driven by hypothesis here). A generated next_token is
    # never one the API issued: the description says 400 for it, so it is not "valid data".
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) == len(template_routes(Template.load()))
    failures = {}
    for operation in operations:

        @settings(
            max_examples=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        @given(case=operation.as_strategy())
        def answers_as_described(case: Any) -> None:
            # When schemathesis sends a request it generated from the description
            # Then the status, content type and body are the described ones, and never 5xx
            # (every request carries the token as HTTP Basic credentials, as Exotel may send
            # it, so the webhooks' own handling is exercised beyond the 401)
            excluded = [positive_data_acceptance] if (case.query or {}).get("next_token") else []
            case.call_and_validate(headers={"Authorization": BASIC}, excluded_checks=excluded)

        try:
            answers_as_described()
        except Exception as failure:
            failures[operation.label] = str(failure)[:2000]
    assert failures == {}
