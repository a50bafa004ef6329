"""The README's cost figures are docs/benchmarks.md's, as `make bench` last measured them: a
figure in the README that no longer holds is a bug. "About" allows the cent or two by which the
handlers' measured CPU moves between runs."""

from __future__ import annotations

import re

from localaws.template import PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text()
BENCHMARKS = (PROJECT_ROOT / "docs/benchmarks.md").read_text()
ABOUT = 0.02  # USD per million


def readme_figure(pattern: str) -> str:
    found = re.search(pattern, " ".join(README.split()))
    assert found, pattern
    return found.group(1)


def test_the_readmes_cost_per_new_attempt_is_the_benchmarks() -> None:
    # Given the benchmark's new attempt at one campaign's 20 callbacks a second, by ingress
    row = r"\| call-status \| new attempt \| (\w+) \| [^|]+ \| ([\d.]+) \("
    targets = dict(re.findall(row, BENCHMARKS))
    # Then the README quotes those figures
    quoted = readme_figure(r"about USD ([\d.]+) per million new call attempts at one campaign's 20")
    assert abs(float(quoted) - float(targets["HttpApi"])) <= ABOUT
    function_url = readme_figure(r"\(about ([\d.]+) with `Ingress=FunctionUrl`")
    assert abs(float(function_url) - float(targets["FunctionUrl"])) <= ABOUT


def test_the_readmes_idle_month_is_the_benchmarks() -> None:
    idle = re.search(r"\| idle: no traffic \| ([\d.]+) \|", BENCHMARKS)
    assert idle
    assert readme_figure(r"USD ([\d.]+) a month before the first webhook") == idle.group(1)


def test_the_readmes_call_details_cost_is_the_benchmarks() -> None:
    # Given the call details section's total per million attempts and its monthly line
    total = re.search(r"\| \*\*all\*\* \| \*\*([\d.]+)\*\* \|", BENCHMARKS)
    month = re.search(r"CallDetails on adds USD ([\d.]+):", BENCHMARKS)
    assert total
    assert month
    # Then the README (and the design) quote them
    assert readme_figure(r"add about USD ([\d.]+) per million attempts") == total.group(1)
    assert readme_figure(r"per million attempts and ([\d.]+) a month") == month.group(1)
    design = " ".join((PROJECT_ROOT / "docs/architecture.md").read_text().split())
    assert f"about USD {total.group(1)} per million attempts" in design
    assert f"USD {month.group(1)} a month for the queue" in design


def test_the_readmes_recordings_cost_is_the_benchmarks() -> None:
    kept = re.search(
        r"\| line \| USD per million recordings kept \|[^*]+\*\*all\*\* \| \*\*([\d.]+)", BENCHMARKS
    )
    stored = re.search(r"a million such recordings cost USD ([\d.]+) a month", BENCHMARKS)
    assert kept
    assert stored
    assert readme_figure(r"about USD ([\d.]+) per million recordings") == kept.group(1)
    assert readme_figure(r"stored for USD ([\d.]+) a million a month") == stored.group(1)
