"""`make sam-local-check`: the real SAM CLI runs every function's sample events in Docker against
`make local`'s stack, as a user with Docker would, and each gives its documented answer.

Steps: an x86_64 copy of the template is built (`sam build`, the layer's wheels for x86_64);
the local stack starts bound to Docker's bridge, so SAM's containers reach its emulated AWS;
`make sam-env`'s file gives each function that stack's resources; then `sam local invoke` runs
each sample (events/, their answers in localaws/samples.py) and `sam local start-api` takes a
webhook. SAM_LOCAL_IMAGE names the image to invoke with (default: AWS's own, pulled by SAM);
where it cannot be pulled, name a stand-in built for the purpose (an x86_64 image with
CPython 3.13 as /var/lang and awslambdaric as its bootstrap, as the managed runtime lays out).

Not part of `make test`: it needs Docker and takes a few minutes.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localaws import samples
from localaws.emulation import DEFAULT_WEBHOOK_TOKEN, REGION
from localaws.net import free_port
from localaws.sam_env import local_sam_environment
from localaws.template import PROJECT_ROOT, Template

WORK = PROJECT_ROOT / ".tools/sam-local"
SAM = PROJECT_ROOT / ".tools/sam/bin/sam"
EVENTS = PROJECT_ROOT / "events"
X86_WHEELS = "manylinux2014_x86_64"


class CheckFailed(Exception):
    pass


def bridge_gateway() -> str:
    """The host's address on Docker's default bridge: what a container reaches the host by."""
    network = json.loads(
        subprocess.run(
            ["docker", "network", "inspect", "bridge"],  # noqa: S607 - the user's docker
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )[0]
    config = network["IPAM"]["Config"][0]
    if config.get("Gateway"):
        return str(config["Gateway"])
    return str(next(ipaddress.ip_network(config["Subnet"]).hosts()))  # Docker's convention


def x86_64_template(template: Template, directory: Path) -> Path:
    """template.yaml for an x86_64 Lambda image: the same resources, code paths made absolute."""
    sam = json.loads(json.dumps(template.sam))
    sam["Globals"]["Function"]["Architectures"] = ["x86_64"]
    for resource in sam["Resources"].values():
        properties = resource.get("Properties", {})
        for code in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(code), str):
                properties[code] = str(PROJECT_ROOT / properties[code])
        if "CompatibleArchitectures" in properties:
            properties["CompatibleArchitectures"] = ["x86_64"]
        if "BuildArchitecture" in resource.get("Metadata", {}):
            resource["Metadata"]["BuildArchitecture"] = "x86_64"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "template.json"
    path.write_text(json.dumps(sam, indent=1))
    return path


def sam_build(template: Path, build_dir: Path) -> Path:
    environment = {**os.environ, "WHEEL_PLATFORM": X86_WHEELS, "SAM_CLI_TELEMETRY": "0"}
    _run(
        [str(SAM), "build", "--template-file", str(template), "--build-dir", str(build_dir)],
        environment,
    )
    return build_dir / "template.yaml"


@dataclass(frozen=True)
class Invoker:
    template: Path
    env_vars: Path
    image: str | None

    def invoke(self, function: str, event: Path) -> dict[str, Any]:
        """The function's answer to the event, as `sam local invoke` prints it."""
        command = [
            str(SAM),
            "local",
            "invoke",
            function,
            "--event",
            str(event),
            "--template",
            str(self.template),
            "--env-vars",
            str(self.env_vars),
            "--region",
            REGION,
            *self._image_options(),
        ]
        output = _run(command, {**os.environ, "SAM_CLI_TELEMETRY": "0"})
        answer: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
        return answer

    def _image_options(self) -> list[str]:
        return ["--invoke-image", self.image, "--skip-pull-image"] if self.image else []


def _run(command: list[str], environment: dict[str, str]) -> str:
    done = subprocess.run(  # noqa: S603 - our own command lines
        command, capture_output=True, text=True, env=environment, cwd=PROJECT_ROOT, check=False
    )
    if done.returncode != 0:
        raise CheckFailed(f"{' '.join(command[:4])}... exited {done.returncode}:\n{done.stderr}")
    return done.stdout


def check_samples(invoker: Invoker, say: Callable[[str], None]) -> list[str]:
    """Every sample event's answer against the one it is documented to give; the mismatches."""
    wrong: list[str] = []

    def expect(name: str, got: object, wanted: object) -> None:
        say(f"{'ok' if got == wanted else 'NO'}  {name}: {got}")
        if got != wanted:
            wrong.append(f"{name}: expected {wanted}, got {got}")

    for name, (status, body_status) in sorted(samples.RECEIVER_OUTCOMES.items()):
        answer = invoker.invoke("ReceiverFunction", EVENTS / "receiver" / name)
        body = json.loads(answer.get("body") or "{}")
        expect(
            f"receiver/{name}",
            (answer.get("statusCode"), body.get("status")),
            (status, body_status),
        )
    for name, failures in samples.PROCESSOR_FAILURES.items():
        function = samples.FUNCTION_OF[name.split("/")[0]]
        answer = invoker.invoke(function, EVENTS / name)
        records = json.loads((EVENTS / name).read_text())["Records"]
        failed = sorted(
            next(i for i, r in enumerate(records) if r["messageId"] == f["itemIdentifier"])
            for f in answer.get("batchItemFailures", [])
        )
        expect(name, failed, failures)
    for name in samples.STREAM_SAMPLES:
        answer = invoker.invoke("LedgerStreamFunction", EVENTS / "ledger_stream" / name)
        expect(f"ledger_stream/{name}", answer, samples.STREAM_ANSWER)
    for name, status in sorted(samples.READ_API_STATUSES.items()):
        answer = invoker.invoke("ReadApiFunction", EVENTS / "read_api" / name)
        expect(f"read_api/{name}", answer.get("statusCode"), status)
    for name, outcome in samples.SWEEP_SAMPLES.items():
        answer = invoker.invoke("SweepFunction", EVENTS / "sweeper" / name)
        expect(f"sweeper/{name}", {k: answer.get(k) for k in outcome}, outcome)
    for name, outcome in samples.SILENCE_SAMPLES.items():
        answer = invoker.invoke("SilenceWatchFunction", EVENTS / "silence_watch" / name)
        expect(f"silence_watch/{name}", answer, outcome)
    for name, sent in samples.ANALYTICS_SAMPLES.items():
        answer = invoker.invoke("AnalyticsStreamFunction", EVENTS / "analytics_stream" / name)
        expect(f"analytics_stream/{name}", answer, sent)
    for name, written in samples.SUMMARY_SAMPLES.items():
        answer = invoker.invoke("SummaryFunction", EVENTS / "summary_writer" / name)
        expect(f"summary_writer/{name}", answer, written)
    return wrong


def check_start_api(template: Path, env_vars: Path, image: str | None, bind: str) -> str | None:
    """A valid webhook POSTed to `sam local start-api` is accepted (None), else what it got."""
    port = free_port()
    command = [
        str(SAM),
        "local",
        "start-api",
        "--template",
        str(template),
        "--env-vars",
        str(env_vars),
        "--region",
        REGION,
        "--port",
        str(port),
        "--host",
        "127.0.0.1",
    ]
    if image:
        command += ["--invoke-image", image, "--skip-pull-image"]
    server = subprocess.Popen(  # noqa: S603 - our own command line
        command,
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
    )
    try:
        sample = json.loads((EVENTS / "receiver/call-status.json").read_text())
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/webhooks/exotel/call-status?token={DEFAULT_WEBHOOK_TOKEN}",
            data=sample["body"].encode(),
            headers={"content-type": "application/json"},
            method="POST",
        )
        for _ in range(120):
            try:
                with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                    body = json.loads(response.read())
                    return None if body.get("status") == "accepted" else json.dumps(body)
            except OSError:
                time.sleep(1)
        return "sam local start-api never answered"
    finally:
        server.terminate()
        server.wait(timeout=30)


def say(line: str) -> None:
    print(line, flush=True)


def main() -> int:
    if shutil.which("docker") is None:
        print("make sam-local-check needs Docker", file=sys.stderr)
        return 2
    from localaws.stack import start  # noqa: PLC0415 - after the checks above

    image = os.environ.get("SAM_LOCAL_IMAGE") or None
    say("building an x86_64 copy of the template (sam build)")
    built = sam_build(x86_64_template(Template.load(), WORK), WORK / "build")
    bind = bridge_gateway()
    port = free_port(bind)
    stack, _, stop = start(port, (DEFAULT_WEBHOOK_TOKEN,), quiet=True, log_level="ERROR", bind=bind)
    try:
        say(f"local stack on {bind}: AWS at {stack.endpoint}")
        env_vars = WORK / "env.json"
        local_sam_environment(Template.load(), stack.endpoint).write(env_vars)
        wrong = check_samples(Invoker(built, env_vars, image), say)
        stored = _ledger_holds(f"http://{bind}:{port}", "camp_abc123")
        say(f"{'ok' if stored else 'NO'}  the receiver's accepted samples reached the ledger")
        if not stored:
            wrong.append("the accepted samples never reached the local stack's ledger")
        start_api = check_start_api(built, env_vars, image, bind)
        say(f"{'ok' if start_api is None else 'NO'}  sam local start-api: a webhook accepted")
        if start_api is not None:
            wrong.append(f"sam local start-api: {start_api}")
    finally:
        stop()
    print("\n".join(["", *wrong, "MISMATCH" if wrong else "every sample gave its answer"]))
    return 1 if wrong else 0


def _ledger_holds(base_url: str, campaign_sid: str) -> bool:
    """The read API of the local stack shows the campaign's attempts (within a minute)."""
    for _ in range(60):
        try:
            with urllib.request.urlopen(f"{base_url}/campaigns/{campaign_sid}") as response:  # noqa: S310
                if json.loads(response.read()).get("attempts", {}).get("total"):
                    return True
        except OSError:
            pass
        time.sleep(1)
    return False


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CheckFailed as error:
        print(error, file=sys.stderr)
        sys.exit(1)
