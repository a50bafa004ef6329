"""The messages on the queues, as pydantic models for the code that consumes them: queued
callbacks (processors) and report requests (report fetcher). The receiver writes its JSON
without pydantic (see intake/callbacks.py); tests prove every callback it builds validates here."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    Json,
    JsonValue,
    StringConstraints,
    model_validator,
)

from exotel_webhooks.vocabulary import (
    MAX_URL_LENGTH,
    CallbackType,
    check_identifier,
    check_plausible,
)

# The receiver's definition of storable (vocabulary.py), applied again to what is consumed.
Identifier = Annotated[str, StringConstraints(min_length=1), AfterValidator(check_identifier)]


class Callback(BaseModel):
    """What every callback carries. `extra` keeps unknown fields under the names they were sent."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", validate_by_name=True, serialize_by_alias=True
    )

    campaign_sid: Identifier
    status: Identifier
    date_created: AwareDatetime | None = None
    date_updated: AwareDatetime | None = None
    extra: dict[str, JsonValue] = Field(default_factory=dict)


class CallStatusCallback(Callback):
    """One call attempt (every retry has its own call SID)."""

    call_sid: Identifier
    number: Identifier  # E.164 where it parses, else as sent
    number_raw: str


class CallScheduleCallback(Callback):
    """A number's final outcome once its retries are exhausted."""

    to: Identifier  # E.164 where it parses, else as sent
    to_raw: str
    from_: Identifier | None = Field(default=None, alias="from")  # the ExoPhone
    from_raw: str | None = None
    call_sids: list[Identifier] = Field(default_factory=list)


class CampaignStatusCallback(Callback):
    """The campaign's status; a final one carries the report URL."""

    report_url: Annotated[str, StringConstraints(max_length=MAX_URL_LENGTH)] | None = None


CALLBACK_MODELS: dict[CallbackType, type[Callback]] = {
    CallbackType.CALL_STATUS: CallStatusCallback,
    CallbackType.CALL_SCHEDULE: CallScheduleCallback,
    CallbackType.CAMPAIGN_STATUS: CampaignStatusCallback,
}


class QueuedCallback[C: Callback](BaseModel):
    """A queue message: `QueuedCallback[CallStatusCallback].model_validate_json(body)`."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    callback_type: CallbackType
    received_at: AwareDatetime
    callback: C

    @model_validator(mode="after")
    def _dates_plausible(self) -> QueuedCallback[C]:
        for name in ("date_created", "date_updated"):
            moment = getattr(self.callback, name)
            if moment is not None:
                check_plausible(name, moment, self.received_at)
        return self


# SQS records whose body is a queued callback, for Powertools' BatchProcessor.
class CallStatusRecord(SqsRecordModel):
    body: Json[QueuedCallback[CallStatusCallback]]


class CallScheduleRecord(SqsRecordModel):
    body: Json[QueuedCallback[CallScheduleCallback]]


class CampaignStatusRecord(SqsRecordModel):
    body: Json[QueuedCallback[CampaignStatusCallback]]


class ReportRequest(BaseModel):
    """What the campaign status processor and `make refetch` put on the report queue."""

    campaign_sid: Identifier
    report_url: str
    event_id: str
    status: str | None = None


class ReportRequestRecord(SqsRecordModel):
    body: Json[ReportRequest]
