"""The receiver's cold start stays free of pydantic (docs/architecture.md, "Storable"): any
pydantic model costs about 73 ms of schema machinery on first use, most of what the receiver's
cold start had over a minimal handler. `make bench` times it; this guards the rule itself."""

from __future__ import annotations

import os
import subprocess
import sys

from localaws.template import PROJECT_ROOT

IMPORT_AND_REPORT = """
import sys
import receiver  # the handler module, as Lambda imports it
print(sorted(name for name in sys.modules if name.split(".")[0] == "pydantic"))
"""


def test_importing_the_receiver_handler_does_not_load_pydantic() -> None:
    # Given a fresh interpreter with the layer and the receiver's code, as Lambda lays them out
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(PROJECT_ROOT / "src"), str(PROJECT_ROOT / "functions/receiver")]
        ),
        "AWS_DEFAULT_REGION": "ap-south-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "CALL_STATUS_QUEUE_URL": "https://sqs.ap-south-1.amazonaws.com/1/a",
        "CALL_SCHEDULE_QUEUE_URL": "https://sqs.ap-south-1.amazonaws.com/1/b",
        "CAMPAIGN_STATUS_QUEUE_URL": "https://sqs.ap-south-1.amazonaws.com/1/c",
        "QUARANTINE_BUCKET": "quarantine",
        "WEBHOOK_SECRET_ARN": "arn:aws:secretsmanager:ap-south-1:1:secret:s",
    }

    # When the handler module is imported (no request is made: clients are lazy until used)
    result = subprocess.run(  # noqa: S603 - our own interpreter and snippet
        [sys.executable, "-c", IMPORT_AND_REPORT],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        cwd=PROJECT_ROOT,
    )

    # Then no pydantic module was loaded
    assert result.stdout.strip() == "[]", result.stdout + result.stderr
