"""`python -m ops <command>`: the Makefile's logs, redrive, quarantine, replay, refetch, erase,
recount, migrate, smoke, number-hash, sweep, enrich, redial, summary, analytics, replay-events
and sam-env targets.

The deployment is samconfig.toml's environment (--config-env, default "default") or a stack
named with --stack; --local acts on the stack `make local` is running.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from botocore.exceptions import BotoCoreError, ClientError

from exotel_webhooks.ledger.table import RaceLost
from exotel_webhooks.sweep.campaign_api import CampaignApiRefused, CampaignApiUnavailable
from exotel_webhooks.views.campaigns import BadRequest, CampaignNotFound, CampaignViews
from exotel_webhooks.views.summary import summary_html
from localaws.analytics import local_dataset
from localaws.template import Template
from ops.analytics import (
    DEFAULT_PREVIOUS,
    AnalyticsError,
    AthenaDataset,
    analytics_report,
    chosen,
)
from ops.enrich import enrich_campaign
from ops.erase import ErasureUnfinished, erase_number
from ops.logs import log_lines, logged_number_hash
from ops.migrate import migrate
from ops.quarantine import quarantined, replay
from ops.redial import redial, summary_line, write_private
from ops.redrive import dead_letter_queues, redrive
from ops.replay_events import ReplayRefused, replay_events
from ops.reports import request_refetch
from ops.sam_env import DEFAULT_PATH, sam_environment, usage
from ops.smoke import SmokeFailed, smoke
from ops.sweep import SweepNotConfigured, sweep_campaign, sweep_due
from ops.target import Target, TargetError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ops", description=__doc__)
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--local", action="store_true", help="the stack `make local` runs")
    where.add_argument("--config-env", default="default", help="samconfig.toml environment")
    parser.add_argument("--stack", help="a stack name, instead of samconfig.toml's")
    commands = parser.add_subparsers(dest="command", required=True)

    logs = commands.add_parser("logs", help="a function's log lines (like sam logs)")
    logs.add_argument("function", help="logical id, e.g. ReceiverFunction")
    logs.add_argument("--since", type=int, default=10, help="minutes back (default 10)")
    logs.add_argument("--filter", help="a CloudWatch Logs filter pattern")
    logs.add_argument("--follow", action="store_true", help="keep printing new lines")

    dlq = commands.add_parser("redrive", help="move DLQ messages back to their queue")
    dlq.add_argument("queues", nargs="*", help="DLQ logical ids (default: every DLQ)")
    dlq.add_argument("--limit", type=int, help="at most this many per DLQ")

    listing = commands.add_parser("quarantine", help="list quarantined requests")
    listing.add_argument("--type", dest="callback_type", help="call-status, call-schedule, ...")
    listing.add_argument("--since", help="first day, YYYY-MM-DD")

    again = commands.add_parser("replay", help="replay quarantined requests through the receiver")
    again.add_argument("keys", nargs="*", help="S3 keys (default: all not yet replayed)")
    again.add_argument("--type", dest="callback_type")
    again.add_argument("--since", help="first day, YYYY-MM-DD")
    again.add_argument("--force", action="store_true", help="also those already replayed")

    fetch = commands.add_parser("refetch", help="fetch a campaign's report again")
    fetch.add_argument("campaign_sid")
    fetch.add_argument("report_url", help="a current report URL (pre-signed URLs expire)")

    forget = commands.add_parser(
        "erase", help="erase a subscriber: attempts, outcomes, report rows"
    )
    forget.add_argument("number", help="the phone number, in any format that parses")
    forget.add_argument("--campaign", help="only this campaign")

    recount = commands.add_parser(
        "recount", help="rebuild a campaign's counters from its items (a repair)"
    )
    recount.add_argument("campaign_sid")

    move = commands.add_parser(
        "migrate", help="copy an old-layout table's items into this stack's table"
    )
    move.add_argument("old_table", help="the old stack's campaign table (its physical name)")

    hashed = commands.add_parser(
        "number-hash", help="the hash log lines name a number by (One number's history)"
    )
    hashed.add_argument("number", help="the phone number, in any format that parses")

    _exotel_api_commands(commands)
    _replay_events_command(commands)

    called = commands.add_parser(
        "redial", help="a campaign's numbers to call again, as Exotel's contact-list CSV"
    )
    called.add_argument("campaign_sid")
    called.add_argument("--statuses", help="final call statuses, default busy,no-answer,failed")
    called.add_argument("--out", type=Path, help="write the CSV here (default: standard output)")

    page = commands.add_parser(
        "summary", help="a campaign's summary page, written to a local HTML file"
    )
    page.add_argument("campaign_sid")
    page.add_argument("--out", type=Path, help="default: summary-<campaign>.html here")

    asked = commands.add_parser(
        "analytics", help="a campaign's connect rates, attempts, outcomes from the dataset"
    )
    asked.add_argument("campaign_sid")
    asked.add_argument("--query", help="one of analytics/queries (default: every one)")
    asked.add_argument(
        "--previous", type=int, default=DEFAULT_PREVIOUS, help="campaigns compared (default 5)"
    )

    commands.add_parser(
        "smoke", help="one webhook of each type, read back through the read API, then erased"
    )

    sam = commands.add_parser(
        "sam-env", help="an --env-vars file for sam local invoke / start-api against the stack"
    )
    sam.add_argument("--output", type=Path, default=DEFAULT_PATH, help=f"default {DEFAULT_PATH}")

    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    arguments = parser.parse_args(argv)
    try:
        target = (
            Target.local()
            if arguments.local
            else Target.from_samconfig(arguments.config_env, arguments.stack)
        )
        return _run(arguments, target)
    except TargetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ErasureUnfinished as error:
        print(f"erase unfinished: {error}; run it again", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _run(arguments: argparse.Namespace, target: Target) -> int:
    if arguments.command == "smoke":
        return _smoke(target)
    if arguments.command == "sam-env":
        return _sam_env(target, arguments.output)
    if arguments.command == "logs":
        for line in log_lines(
            target,
            arguments.function,
            since_seconds=arguments.since * 60,
            filter_pattern=arguments.filter,
            follow=arguments.follow,
        ):
            print(line, flush=True)
        return 0
    if arguments.command == "redrive":
        template = Template.load()
        for queue in arguments.queues or sorted(dead_letter_queues(template)):
            moved = redrive(target, template, queue, arguments.limit)
            print(f"{moved.dead_letter_queue} -> {moved.source_queue}: {moved.moved} moved")
        return 0
    if arguments.command in _ANSWERED:
        return _ANSWERED[arguments.command](target, arguments)
    if arguments.command in _ONE_LINE:
        print(_ONE_LINE[arguments.command](target, arguments))
        return 0
    if arguments.command == "quarantine":
        count = 0
        for request in quarantined(target, arguments.callback_type, arguments.since):
            count += 1
            state = f"replayed: {request.replayed}" if request.replayed else "not replayed"
            print(f"{request.received_at}  {request.key}  [{state}]  {request.reason}")
        print(f"{count} quarantined request(s)")
        return 0
    results = replay(
        target,
        keys=arguments.keys,
        callback_type=arguments.callback_type,
        since=arguments.since,
        force=arguments.force,
    )
    for result in results:
        print(f"{result.outcome:<11} {result.key}  {result.detail}")
    failed = sum(result.outcome == "failed" for result in results)
    print(f"{len(results)} replayed or skipped, {failed} failed")
    return 1 if failed else 0


# The commands that print one line of what they did.
_ONE_LINE: dict[str, Callable[[Target, argparse.Namespace], str]] = {
    "erase": lambda target, arguments: erase_number(
        target, arguments.number, arguments.campaign
    ).summary(),
    "number-hash": lambda target, arguments: logged_number_hash(target, arguments.number),
    "recount": lambda target, arguments: _recount(target, arguments.campaign_sid),
    "migrate": lambda target, arguments: (
        ", ".join(f"{n} {what}" for what, n in sorted(migrate(target, arguments.old_table).items()))
        or "nothing to copy"
    ),
    "refetch": lambda target, arguments: (
        f"report request {request_refetch(target, arguments.campaign_sid, arguments.report_url)}"
        f" queued for {arguments.campaign_sid}"
    ),
}


def _sam_env(target: Target, path: Path) -> int:
    environment = sam_environment(target, Template.load())
    environment.write(path)
    print(
        f"{path}: the environment of {len(environment.variables)} functions of {target.stack_name}"
    )
    if environment.warning:
        print(f"warning: {environment.warning}", file=sys.stderr)
    for command in usage(environment, path):
        print(f"  {command}")
    return 0


def _recount(target: Target, campaign_sid: str) -> str:
    table = target.campaign_table()
    corrections = table.recount(campaign_sid)
    changed = ", ".join(f"{name} {delta:+d}" for name, delta in corrections.items())
    return f"{campaign_sid}: {changed or 'counters already equal the items'}"


def _summary(target: Target, campaign_sid: str, out: Path | None) -> int:
    path = out or Path(f"summary-{quote(campaign_sid, safe='')}.html")
    try:
        figures = CampaignViews(target.campaign_table(), target.rules).summary_figures(campaign_sid)
    except CampaignNotFound as error:
        print(f"summary: {error}", file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError, RaceLost) as error:
        print(
            f"summary: the campaign table could not be read ({error}); try again", file=sys.stderr
        )
        return 1
    path.write_text(summary_html(figures))
    print(path.resolve())
    return 0


def _analytics(target: Target, campaign_sid: str, name: str | None, previous: int) -> int:
    try:
        asked = chosen(name, previous)
        if target.endpoint:  # make local's stack: its dataset's objects, in DuckDB
            bucket = target.physical_id("ReportBucket")
            with local_dataset(target.client("s3"), bucket) as dataset:
                print(analytics_report(dataset, asked, campaign_sid, previous))
        else:
            athena = AthenaDataset(
                target.client("athena"),
                target.outputs["AnalyticsWorkGroupName"],
                target.outputs["AnalyticsDatabaseName"],
            )
            print(analytics_report(athena, asked, campaign_sid, previous))
    except AnalyticsError as error:
        print(f"analytics: {error}", file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError) as error:
        print(f"analytics: AWS refused or was out of reach ({error}); try again", file=sys.stderr)
        return 1
    return 0


def _redial(target: Target, campaign_sid: str, statuses: str | None, out: Path | None) -> int:
    try:
        listed = redial(target, campaign_sid, statuses)
    except (BadRequest, CampaignNotFound) as error:
        print(f"redial: {error}", file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError, RaceLost) as error:
        print(f"redial: the campaign table could not be read ({error}); try again", file=sys.stderr)
        return 1
    if out:
        write_private(out, listed.csv())
    else:
        print(listed.csv(), end="")
    print(summary_line(campaign_sid, listed, out), file=sys.stderr)
    return 0


def _sweep(target: Target, campaign_sid: str | None) -> int:
    try:
        reports = [sweep_campaign(target, campaign_sid)] if campaign_sid else sweep_due(target)
    except (SweepNotConfigured, CampaignApiRefused, CampaignApiUnavailable) as error:
        print(f"sweep of {campaign_sid or 'the campaigns due'} failed: {error}", file=sys.stderr)
        return 1
    for report in reports:
        print(report.summary())
    if not campaign_sid:
        print(f"{len(reports)} campaign(s) were due a sweep")
    return 0


def _exotel_api_commands(commands: Any) -> None:  # noqa: ANN401 - argparse's private type
    """The commands that ask Exotel's APIs (EXOTEL_API_* settings)."""
    swept = commands.add_parser(
        "sweep", help="sweep a campaign through Exotel's Campaign API now (EXOTEL_API_* settings)"
    )
    swept.add_argument("campaign_sid", nargs="?", help="default: every campaign that needs it")
    commands.add_parser(
        "enrich",
        help="a campaign's final attempts without call details, asked about now (EXOTEL_API_*)",
    ).add_argument("campaign_sid")


def _enrich(target: Target, campaign_sid: str) -> int:
    try:
        report = enrich_campaign(target, campaign_sid)
    except (SweepNotConfigured, CampaignApiRefused, CampaignApiUnavailable) as error:
        print(f"call details of {campaign_sid} not read: {error}", file=sys.stderr)
        return 1
    print(report.summary(campaign_sid))
    return 0


def _replay_events_command(commands: Any) -> None:  # noqa: ANN401 - argparse's private type
    replayed = commands.add_parser(
        "replay-events", help="send the archived campaign events of a time range to the bus again"
    )
    replayed.add_argument("--from", dest="start", required=True, help="ISO 8601 date or time")
    replayed.add_argument("--to", dest="end", required=True, help="no offset: LocalTimezone's")
    replayed.add_argument("--rule", help="only this rule of the bus (default: every rule)")


def _replay_events(target: Target, arguments: argparse.Namespace) -> int:
    try:
        started = replay_events(target, arguments.start, arguments.end, arguments.rule)
    except ReplayRefused as error:
        print(f"replay-events: {error}", file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError) as error:
        print(f"replay-events: AWS refused or was out of reach ({error})", file=sys.stderr)
        return 1
    print(started.summary())
    return 0


def _smoke(target: Target) -> int:
    try:
        report = smoke(target)
    except SmokeFailed as error:
        print(f"smoke FAILED on {target.stack_name}: {error}", file=sys.stderr)
        return 1
    for line in report.passed:
        print(f"ok       {line}")
    for line in report.skipped:
        print(f"SKIPPED  {line}")
    print(f"smoke passed on {target.stack_name} ({report.campaign_sid} erased)")
    return 0


# Commands that answer with their own exit status
_ANSWERED: dict[str, Callable[[Target, argparse.Namespace], int]] = {
    "sweep": lambda target, arguments: _sweep(target, arguments.campaign_sid),
    "enrich": lambda target, arguments: _enrich(target, arguments.campaign_sid),
    "replay-events": _replay_events,
    "redial": lambda target, arguments: _redial(
        target, arguments.campaign_sid, arguments.statuses, arguments.out
    ),
    "summary": lambda target, arguments: _summary(target, arguments.campaign_sid, arguments.out),
    "analytics": lambda target, arguments: _analytics(
        target, arguments.campaign_sid, arguments.query, arguments.previous
    ),
}


if __name__ == "__main__":
    sys.exit(main())
