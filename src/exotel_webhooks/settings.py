"""Settings, parsed once per container from the environment that template.yaml defines.

Plain dataclasses: the receiver's cold start has no room for pydantic (see intake/callbacks.py).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def _retention(days: int) -> timedelta | None:
    """How long stored items live (DynamoDB TTL, DATA_RETENTION_DAYS); None keeps them."""
    return timedelta(days=days) if days else None


class SettingsError(ValueError):
    """An environment variable is missing or malformed: the function cannot start."""


@dataclass(frozen=True)
class NormalisationRules:
    """How ambiguous values in Exotel's callbacks and APIs are read: zone-less times, numbers
    without a country code, prices without a currency."""

    local_timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Kolkata"))
    default_phone_region: str = "IN"
    currency: str = "INR"

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> NormalisationRules:
        zone_name = environ.get("LOCAL_TIMEZONE", "Asia/Kolkata")
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise SettingsError(f"LOCAL_TIMEZONE {zone_name!r} is not an IANA zone") from error
        region = environ.get("DEFAULT_PHONE_REGION", "IN")
        if not re.fullmatch(r"[A-Z]{2}", region):
            raise SettingsError(f"DEFAULT_PHONE_REGION {region!r} is not a two-letter region")
        currency = environ.get("CALL_PRICE_CURRENCY", "INR")
        if not re.fullmatch(r"[A-Z]{3}", currency):
            raise SettingsError(f"CALL_PRICE_CURRENCY {currency!r} is not an ISO 4217 code")
        return cls(local_timezone=zone, default_phone_region=region, currency=currency)


@dataclass(frozen=True)
class ReceiverSettings:
    call_status_queue_url: str
    call_schedule_queue_url: str
    campaign_status_queue_url: str
    quarantine_bucket: str
    webhook_secret_arn: str
    max_body_bytes: int = 256 * 1024
    secret_cache_seconds: float = 300
    rules: NormalisationRules = field(default_factory=NormalisationRules)
    # `sam local invoke` / `start-api` set AWS_SAM_LOCAL; their request times are not API
    # Gateway's (intake/http.py, received_at)
    under_sam_local: bool = False

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> ReceiverSettings:
        return cls(
            call_status_queue_url=_required(environ, "CALL_STATUS_QUEUE_URL"),
            call_schedule_queue_url=_required(environ, "CALL_SCHEDULE_QUEUE_URL"),
            campaign_status_queue_url=_required(environ, "CAMPAIGN_STATUS_QUEUE_URL"),
            quarantine_bucket=_required(environ, "QUARANTINE_BUCKET"),
            webhook_secret_arn=_required(environ, "WEBHOOK_SECRET_ARN"),
            max_body_bytes=int(_number(environ, "MAX_BODY_BYTES", 256 * 1024, minimum=1)),
            secret_cache_seconds=_number(environ, "SECRET_CACHE_SECONDS", 300, minimum=0),
            rules=NormalisationRules.from_environment(environ),
            under_sam_local=environ.get("AWS_SAM_LOCAL", "").lower() == "true",
        )


def _required(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise SettingsError(f"{name} is not set")
    return value


def _number(environ: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    text = environ.get(name)
    if text is None or not text.strip():
        return default
    try:
        value = float(text)
    except ValueError as error:
        raise SettingsError(f"{name} {text!r} is not a number") from error
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}")
    return value


@dataclass(frozen=True)
class ProcessorSettings:
    table_name: str
    event_bus_name: str | None = None
    report_queue_url: str | None = None
    report_delay_seconds: int = 0
    data_retention_days: int = 0
    call_details_queue_url: str | None = None  # call details on (the ledger stream's)
    call_details_after_minutes: int = 5  # Exotel prices a call about 5 minutes after it ends
    recording_queue_url: str | None = None  # recordings kept (the ledger stream's)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> ProcessorSettings:
        return cls(
            table_name=_required(environ, "TABLE_NAME"),
            event_bus_name=environ.get("EVENT_BUS_NAME") or None,
            report_queue_url=environ.get("REPORT_QUEUE_URL") or None,
            report_delay_seconds=int(_number(environ, "REPORT_DELAY_SECONDS", 0, minimum=0)),
            data_retention_days=int(_number(environ, "DATA_RETENTION_DAYS", 0, minimum=0)),
            call_details_queue_url=environ.get("CALL_DETAILS_QUEUE_URL") or None,
            call_details_after_minutes=int(
                _number(environ, "CALL_DETAILS_AFTER_MINUTES", 5, minimum=0)
            ),
            recording_queue_url=environ.get("RECORDING_QUEUE_URL") or None,
        )

    @property
    def retention(self) -> timedelta | None:
        return _retention(self.data_retention_days)


@dataclass(frozen=True)
class ReadApiSettings:
    table_name: str
    rules: NormalisationRules = field(default_factory=NormalisationRules)
    report_bucket: str | None = None  # where the summary pages are

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> ReadApiSettings:
        return cls(
            table_name=_required(environ, "TABLE_NAME"),
            rules=NormalisationRules.from_environment(environ),
            report_bucket=environ.get("REPORT_BUCKET") or None,
        )


@dataclass(frozen=True)
class AnalyticsSettings:
    delivery_stream_name: str  # the Firehose delivery stream the rows go to
    rules: NormalisationRules = field(default_factory=NormalisationRules)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> AnalyticsSettings:
        return cls(
            delivery_stream_name=_required(environ, "ANALYTICS_STREAM_NAME"),
            rules=NormalisationRules.from_environment(environ),
        )


@dataclass(frozen=True)
class SummarySettings:
    table_name: str
    report_bucket: str
    rules: NormalisationRules = field(default_factory=NormalisationRules)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> SummarySettings:
        return cls(
            table_name=_required(environ, "TABLE_NAME"),
            report_bucket=_required(environ, "REPORT_BUCKET"),
            rules=NormalisationRules.from_environment(environ),
        )


@dataclass(frozen=True)
class RecordingSettings:
    sweep: SweepSettings  # the table, Exotel's API and its secret, as the sweeps have them
    report_bucket: str  # recordings/ in it
    allowed_hosts: tuple[str, ...]  # where a recording's link may lead
    max_bytes: int = 200 * 1024**2
    allow_loopback: bool = False  # set only by the local stack, never by the template

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> RecordingSettings:
        hosts = _required(environ, "RECORDING_URL_ALLOWED_HOSTS")
        return cls(
            sweep=SweepSettings.from_environment(environ),
            report_bucket=_required(environ, "REPORT_BUCKET"),
            allowed_hosts=tuple(h.strip().lower() for h in hosts.split(",") if h.strip()),
            max_bytes=int(_number(environ, "RECORDING_MAX_BYTES", 200 * 1024**2, minimum=1)),
            allow_loopback=environ.get("RECORDING_URL_ALLOW_LOOPBACK", "").lower() == "true",
        )


@dataclass(frozen=True)
class SilenceSettings:
    table_name: str
    silent_minutes: int = 30
    event_bus_name: str | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> SilenceSettings:
        return cls(
            table_name=_required(environ, "TABLE_NAME"),
            silent_minutes=int(_number(environ, "SILENT_CAMPAIGN_MINUTES", 30, minimum=1)),
            event_bus_name=environ.get("EVENT_BUS_NAME") or None,
        )


@dataclass(frozen=True)
class ReportFetcherSettings:
    table_name: str
    report_bucket: str
    allowed_hosts: tuple[str, ...]
    max_bytes: int = 2 * 1024**3
    event_bus_name: str | None = None
    report_queue_url: str | None = None
    allow_loopback: bool = False  # set only by the local stack, never by the template
    data_retention_days: int = 0
    rules: NormalisationRules = field(default_factory=NormalisationRules)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> ReportFetcherSettings:
        hosts = _required(environ, "REPORT_URL_ALLOWED_HOSTS")  # the template's default
        return cls(
            table_name=_required(environ, "TABLE_NAME"),
            report_bucket=_required(environ, "REPORT_BUCKET"),
            allowed_hosts=tuple(h.strip().lower() for h in hosts.split(",") if h.strip()),
            max_bytes=int(_number(environ, "REPORT_MAX_BYTES", 2 * 1024**3, minimum=1)),
            event_bus_name=environ.get("EVENT_BUS_NAME") or None,
            report_queue_url=environ.get("REPORT_QUEUE_URL") or None,
            allow_loopback=environ.get("REPORT_URL_ALLOW_LOOPBACK", "").lower() == "true",
            data_retention_days=int(_number(environ, "DATA_RETENTION_DAYS", 0, minimum=0)),
            rules=NormalisationRules.from_environment(environ),
        )

    @property
    def retention(self) -> timedelta | None:
        return _retention(self.data_retention_days)


@dataclass(frozen=True)
class SweepSettings:
    table_name: str
    api_host: str
    api_secret_arn: str
    quiet_minutes: int = 60
    data_retention_days: int = 0
    allow_loopback: bool = False  # set only by the local stack, never by the template
    rules: NormalisationRules = field(default_factory=NormalisationRules)
    event_bus_name: str | None = None
    requests_per_minute: float = 30  # Exotel's Campaign API limit for an account

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> SweepSettings:
        return cls(
            table_name=_required(environ, "TABLE_NAME"),
            api_host=_required(environ, "EXOTEL_API_HOST"),
            api_secret_arn=_required(environ, "EXOTEL_API_SECRET_ARN"),
            quiet_minutes=int(_number(environ, "SWEEP_QUIET_MINUTES", 60, minimum=1)),
            data_retention_days=int(_number(environ, "DATA_RETENTION_DAYS", 0, minimum=0)),
            event_bus_name=environ.get("EVENT_BUS_NAME") or None,
            requests_per_minute=_number(environ, "EXOTEL_API_REQUESTS_PER_MINUTE", 30, minimum=1),
            allow_loopback=environ.get("EXOTEL_API_ALLOW_LOOPBACK", "").lower() == "true",
            rules=NormalisationRules.from_environment(environ),
        )

    @property
    def retention(self) -> timedelta | None:
        return _retention(self.data_retention_days)
