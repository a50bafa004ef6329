"""Settings, parsed once per container from the environment that template.yaml defines."""

from __future__ import annotations

import os
from collections.abc import Mapping
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator


class NormalisationRules(BaseModel):
    """How ambiguous values in Exotel's callbacks are read."""

    model_config = ConfigDict(frozen=True, extra="ignore", arbitrary_types_allowed=True)

    local_timezone: ZoneInfo = ZoneInfo("Asia/Kolkata")
    default_phone_region: str = Field(default="IN", pattern=r"^[A-Z]{2}$")

    @field_validator("local_timezone", mode="before")
    @classmethod
    def _zone(cls, value: object) -> ZoneInfo:
        return value if isinstance(value, ZoneInfo) else ZoneInfo(str(value))


class ReceiverSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    call_status_queue_url: str
    call_schedule_queue_url: str
    campaign_status_queue_url: str
    quarantine_bucket: str
    webhook_secret_arn: str
    max_body_bytes: int = Field(default=256 * 1024, gt=0)
    secret_cache_seconds: float = Field(default=300, ge=0)
    rules: NormalisationRules = NormalisationRules()

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> ReceiverSettings:
        values: dict[str, object] = {key.lower(): value for key, value in environ.items()}
        values["rules"] = NormalisationRules.model_validate(values)
        return cls.model_validate(values)
