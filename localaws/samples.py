"""What each sample event in events/ is for: the answer its function gives, as documented.
tests/stack/test_events.py checks them in-process; `make sam-local-check` (localaws/sam_local.py)
under the real SAM CLI in Docker."""

from __future__ import annotations

# What each receiver sample is for: (status code, body "status" or None for an error body).
RECEIVER_OUTCOMES = {
    "call-status.json": (200, "accepted"),
    "call-status-form.json": (200, "accepted"),
    "call-status-pascal-case.json": (200, "accepted"),
    "call-status-basic-auth.json": (200, "accepted"),
    "call-status-function-url.json": (200, "accepted"),  # Ingress FunctionUrl's event
    "call-schedule.json": (200, "accepted"),
    "call-schedule-form.json": (200, "accepted"),
    "call-schedule-form-indexed.json": (200, "accepted"),
    "campaign-status.json": (200, "accepted"),
    "campaign-status-form.json": (200, "accepted"),
    "campaign-status-in-progress.json": (200, "accepted"),
    "no-secret.json": (401, None),
    "wrong-secret.json": (401, None),
    "oversized.json": (413, None),
    "malformed-json.json": (200, "quarantined"),
    "missing-call-sid.json": (200, "quarantined"),
    "unparseable-timestamp.json": (200, "quarantined"),
}


# Processor samples: the indexes of the records that must be reported as failed.
PROCESSOR_FAILURES = {
    "call_status_processor/batch.json": [],
    "call_status_processor/batch-with-poison.json": [1, 2],
    "call_schedule_processor/batch.json": [],
    "campaign_status_processor/in-progress.json": [],
    "campaign_status_processor/completed.json": [],
    "report_fetcher/forged-metadata-url.json": [],  # refused, recorded as failed, not retried
}
# Samples that need the internet (a real pre-signed report URL, Exotel's APIs): their shape is
# checked only.
SHAPE_ONLY = {
    "report_fetcher/report-request.json",
    "sweeper/one-campaign.json",
    "sweeper/campaign-silent.json",
    "call_details/batch.json",
    "recordings/batch.json",
}
# The sweeper's scheduled run, on a table with no campaign due a sweep.
SWEEP_SAMPLES: dict[str, dict[str, list[str]]] = {"scheduled.json": {"swept": [], "failed": []}}
# The silence watch's scheduled run after the processor samples: their callbacks were just
# stored, so no campaign is silent.
SILENCE_SAMPLES: dict[str, dict[str, list[str]]] = {"scheduled.json": {"silent": []}}
FUNCTION_OF = {
    "call_status_processor": "CallStatusProcessorFunction",
    "call_schedule_processor": "CallScheduleProcessorFunction",
    "campaign_status_processor": "CampaignStatusProcessorFunction",
    "report_fetcher": "ReportFetcherFunction",
}
STREAM_SAMPLES = ("window.json", "window-end.json")
# The analytics stream function's answer: a row sent for each record of the batch.
ANALYTICS_SAMPLES: dict[str, dict[str, int]] = {"batch.json": {"rows": 4}}
# The summary function's answer to a campaign's CampaignCompleted, after the processor samples.
SUMMARY_SAMPLES: dict[str, dict[str, str]] = {
    "campaign-completed.json": {"written": "summaries/camp_abc123.html"}
}
# Read API samples, answered after the processor samples above have run.
READ_API_STATUSES = {
    "get-campaign.json": 200,
    "get-campaign-number.json": 200,
    "get-campaign-number-national.json": 200,
    "list-calls.json": 200,
    "list-calls-by-status.json": 200,
    "unknown-campaign.json": 404,
    "bad-limit.json": 400,
}
# The ledger stream function's answer to each of its samples (no state carried: the window
# writes its counts as it goes).
STREAM_ANSWER: dict[str, object] = {"state": {}}
