"""Settings are parsed once, from the environment the template defines, with clear errors."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from exotel_webhooks.settings import ReceiverSettings, SettingsError

REQUIRED = {
    "CALL_STATUS_QUEUE_URL": "https://sqs/q1",
    "CALL_SCHEDULE_QUEUE_URL": "https://sqs/q2",
    "CAMPAIGN_STATUS_QUEUE_URL": "https://sqs/q3",
    "QUARANTINE_BUCKET": "bucket",
    "WEBHOOK_SECRET_ARN": "arn:aws:secretsmanager:ap-south-1:1:secret:s",
}


def test_defaults_are_the_contracts() -> None:
    settings = ReceiverSettings.from_environment(REQUIRED)
    assert settings.max_body_bytes == 256 * 1024
    assert settings.secret_cache_seconds == 300
    assert settings.rules.local_timezone == ZoneInfo("Asia/Kolkata")
    assert settings.rules.default_phone_region == "IN"


def test_values_from_the_environment_are_typed() -> None:
    settings = ReceiverSettings.from_environment(
        {
            **REQUIRED,
            "MAX_BODY_BYTES": "1024",
            "SECRET_CACHE_SECONDS": "0",
            "LOCAL_TIMEZONE": "UTC",
            "DEFAULT_PHONE_REGION": "US",
        }
    )
    assert settings.max_body_bytes == 1024
    assert settings.secret_cache_seconds == 0
    assert settings.rules.local_timezone == ZoneInfo("UTC")
    assert settings.rules.default_phone_region == "US"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"QUARANTINE_BUCKET": ""}, "QUARANTINE_BUCKET is not set"),
        ({"MAX_BODY_BYTES": "lots"}, "MAX_BODY_BYTES 'lots' is not a number"),
        ({"MAX_BODY_BYTES": "0"}, "MAX_BODY_BYTES must be at least 1"),
        ({"LOCAL_TIMEZONE": "Mars/Olympus"}, "LOCAL_TIMEZONE 'Mars/Olympus' is not an IANA zone"),
        ({"DEFAULT_PHONE_REGION": "India"}, "DEFAULT_PHONE_REGION 'India'"),
    ],
)
def test_bad_settings_say_which_variable(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        ReceiverSettings.from_environment({**REQUIRED, **overrides})
