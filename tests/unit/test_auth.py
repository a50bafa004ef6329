"""Where the secret is carried, rotation, and the secret cache."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from exotel_webhooks.intake.adapters import MAX_STALE_SECONDS, SecretsManagerSecretSource
from exotel_webhooks.intake.auth import WebhookSecrets, presented_tokens
from exotel_webhooks.intake.errors import StorageUnavailable


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
        ('{"token": "t", "previous_token": "p"}', ["t", "p"], []),
        ('{"token": "t", "username": "exotel", "note": "rotated"}', ["t"], ["exotel", "rotated"]),
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


def cached(client: CountingSecretsClient, clock: Clock) -> SecretsManagerSecretSource:
    return SecretsManagerSecretSource(
        client,  # type: ignore[arg-type]
        "arn",
        max_age_seconds=300,
        clock=clock,
        pause=lambda: 45,
    )


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


def test_after_a_failed_refresh_secrets_manager_rests_before_it_is_asked_again() -> None:
    # Given a cached secret whose refresh fails
    client, clock = CountingSecretsClient(json.dumps({"token": "t"})), Clock()
    secrets = cached(client, clock)
    secrets.current()
    client.failing = True
    clock.now += 301

    # When requests keep coming during the pause
    for _ in range(50):
        assert secrets.current().admit(["t"])
        clock.now += 0.5

    # Then Secrets Manager was asked once, and again only once the pause is over
    assert client.reads == 2
    clock.now += 45
    secrets.current()
    assert client.reads == 3


def test_a_secret_too_stale_to_trust_is_refused_not_served() -> None:
    # Given a cached secret, and Secrets Manager down for longer than the staleness bound
    client, clock = CountingSecretsClient(json.dumps({"token": "t"})), Clock()
    secrets = cached(client, clock)
    secrets.current()
    client.failing = True

    # When an hour has passed since the last good read, Then requests get 503 (Exotel retries)
    clock.now += MAX_STALE_SECONDS - 1
    assert secrets.current().admit(["t"])
    clock.now += 2
    with pytest.raises(StorageUnavailable):
        secrets.current()

    # And once Secrets Manager answers again (after the pause), the secret serves again
    client.failing = False
    clock.now += 60
    assert secrets.current().admit(["t"])


def test_with_no_secret_a_failing_secrets_manager_is_not_asked_on_every_request() -> None:
    client, clock = CountingSecretsClient(""), Clock()
    client.failing = True
    secrets = cached(client, clock)
    for _ in range(10):
        with pytest.raises(StorageUnavailable):
            secrets.current()
    assert client.reads == 1


def test_no_secret_at_all_is_a_temporary_failure() -> None:
    client = CountingSecretsClient("")
    client.failing = True
    with pytest.raises(StorageUnavailable):
        cached(client, Clock()).current()
