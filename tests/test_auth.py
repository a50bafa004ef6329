"""Where the secret is carried, rotation, and the secret cache."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from exotel_webhooks.auth import WebhookSecrets, presented_tokens
from exotel_webhooks.aws import CachedWebhookSecrets
from exotel_webhooks.errors import StorageUnavailable


def basic(user: str, password: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.mark.parametrize(
    ("query", "headers", "expected"),
    [
        ({"token": ["s3cret"]}, {}, ["s3cret"]),
        ({}, basic("exotel", "s3cret"), ["s3cret"]),
        ({}, basic("", "s3cret"), ["s3cret"]),
        ({}, basic("user", "pass:with:colons"), ["pass:with:colons"]),
        ({"token": ["a"]}, basic("u", "b"), ["a", "b"]),
        ({}, {"authorization": "Basic !!!not-base64"}, []),
        ({}, {"authorization": "Bearer s3cret"}, []),
        ({}, {"authorization": "Basic " + base64.b64encode(b"no-colon").decode()}, []),
        ({}, {}, []),
    ],
)
def test_presented_tokens(
    query: dict[str, list[str]], headers: dict[str, str], expected: list[str]
) -> None:
    assert presented_tokens(query, headers) == expected


@pytest.mark.parametrize(
    ("secret_string", "valid", "invalid"),
    [
        ('{"token": "new"}', ["new"], ["old", ""]),
        ('{"token": "new", "previous": "old"}', ["new", "old"], ["other"]),
        ('{"tokens": ["a", "b"], "note": 3}', ["a", "b"], ["3"]),
        ("plain-string-secret", ["plain-string-secret"], ["plain"]),
        ('{"token": ""}', [], ["", " "]),
    ],
)
def test_every_token_in_the_secret_is_valid(
    secret_string: str, valid: list[str], invalid: list[str]
) -> None:
    secrets = WebhookSecrets.from_secret_string(secret_string)
    assert all(secrets.admit([token]) for token in valid)
    assert not any(secrets.admit([token]) for token in invalid)


def test_any_presented_candidate_may_match_but_only_a_few_are_tried() -> None:
    secrets = WebhookSecrets(["right"])
    assert secrets.admit(["wrong", "right"])
    assert not secrets.admit(["w1", "w2", "w3", "w4", "right"])  # guessing in bulk does not help


class CountingSecretsClient:
    """A Secrets Manager stand-in that counts reads and can be made to fail."""

    def __init__(self, secret_string: str) -> None:
        self.secret_string = secret_string
        self.reads = 0
        self.failing = False

    def get_secret_value(self, SecretId: str) -> dict[str, Any]:
        self.reads += 1
        if self.failing:
            raise ClientError({"Error": {"Code": "InternalServiceError"}}, "GetSecretValue")
        return {"SecretString": self.secret_string}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def cached(client: CountingSecretsClient, clock: Clock) -> CachedWebhookSecrets:
    return CachedWebhookSecrets(client, "arn", max_age_seconds=300, clock=clock)  # type: ignore[arg-type]


def test_secret_is_read_once_per_max_age_and_rotation_lands_after_it() -> None:
    # Given a cached secret
    client, clock = CountingSecretsClient(json.dumps({"token": "old"})), Clock()
    secrets = cached(client, clock)
    assert secrets.current().admit(["old"])

    # When the secret is rotated and less than max-age passes
    client.secret_string = json.dumps({"token": "new"})
    clock.now += 299

    # Then the cached value still serves, without another read
    assert secrets.current().admit(["old"])
    assert client.reads == 1

    # When max-age has passed, Then the new value is read and serves
    clock.now += 2
    assert secrets.current().admit(["new"])
    assert not secrets.current().admit(["old"])
    assert client.reads == 2


def test_a_failed_refresh_keeps_serving_the_last_good_secret() -> None:
    client, clock = CountingSecretsClient(json.dumps({"token": "t"})), Clock()
    secrets = cached(client, clock)
    secrets.current()
    client.failing = True
    clock.now += 301
    assert secrets.current().admit(["t"])


def test_no_secret_at_all_is_a_temporary_failure() -> None:
    client = CountingSecretsClient("")
    client.failing = True
    with pytest.raises(StorageUnavailable):
        cached(client, Clock()).current()
