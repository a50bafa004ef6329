# Every target sets up what it needs: a fresh machine needs only python3.13 on PATH
# (pyenv selects it through .python-version).
SHELL := /bin/bash
.DEFAULT_GOAL := help

export UV_PYTHON_DOWNLOADS := never
export SAM_CLI_TELEMETRY := 0
UV_VERSION := 0.13.8
PYTHON313 := $(shell command -v python3.13 2>/dev/null)
BOOTSTRAP := .tools/bootstrap
UV := $(BOOTSTRAP)/bin/uv
PY := .venv/bin/python
SAM := .tools/sam/bin/sam
SYNCED := .venv/.synced
RUNTIME := .venv/.synced-runtime
SECURITY := .tools/security/bin/checkov

.PHONY: help setup test test-browser test-fast security lint format typecheck pytest validate build invoke local demo lock bench deploy clean logs redrive quarantine replay refetch erase recount migrate smoke number-hash sweep enrich replay-events sam-env sam-local-check cost redial analytics summary

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(UV):
	@test -n "$(PYTHON313)" || { echo "python3.13 is not on PATH (pyenv install 3.13, or add it)"; exit 1; }
	$(PYTHON313) -m venv $(BOOTSTRAP)
	$(BOOTSTRAP)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(SYNCED): pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --compile-bytecode --python $(PYTHON313)
	@touch $@

# make local, demo, invoke and the operations commands run the package and the AWS emulator only:
# they install that much (pyproject.toml's `local` group), and Python compiles what they import.
# The full environment (make test's) holds it already.
$(RUNTIME): pyproject.toml uv.lock | $(UV)
	@if [ $(SYNCED) -nt uv.lock ] && [ $(SYNCED) -nt pyproject.toml ]; then :; else \
		echo "make: installing the package, its runtime dependencies and the AWS emulator into .venv (first run only)" >&2; \
		$(UV) sync --quiet --locked --inexact --no-default-groups --group local --python $(PYTHON313); fi
	@touch $@

# aws-sam-cli and cfn-lint live in their own environment so their pins never fight ours.
$(SAM): tools/requirements-sam.txt | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON313) .tools/sam
	$(UV) pip install --quiet --python .tools/sam/bin/python -r tools/requirements-sam.txt
	@touch $@

# checkov and pip-audit too, in a third environment.
$(SECURITY): tools/requirements-security.txt | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON313) .tools/security
	$(UV) pip install --quiet --python .tools/security/bin/python -r tools/requirements-security.txt
	@touch $@

setup: $(SYNCED) $(SAM) $(SECURITY) ## Create the environments (project, SAM tools, security scanners)

# The checks run two at a time (the security scans wait on the network, the others on a core),
# then the tests.
test: setup ## Everything CI runs: lint, types, sam validate, security scans, sam build, then the tests
	@$(MAKE) --no-print-directory -j2 --output-sync=target lint typecheck validate security build
	@$(MAKE) --no-print-directory pytest

security: $(SYNCED) $(SECURITY) ## checkov on the CloudFormation sam deploy would create; pip-audit on the locked dependencies
	$(PY) -m localaws.template .tools/tmp/cloudformation.json
	.tools/security/bin/checkov --config-file tools/checkov.yaml -f .tools/tmp/cloudformation.json
	$(UV) export --quiet --frozen --all-groups --no-emit-project --no-header -o .tools/tmp/locked-requirements.txt
	$(PY) tools/audit.py .tools/security/bin/pip-audit .tools/tmp/locked-requirements.txt tools/requirements-sam.txt tools/requirements-security.txt

lint: $(SYNCED)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(SYNCED) ## Apply ruff's fixes and formatting
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

typecheck: $(SYNCED)
	$(PY) -m mypy src functions localaws ops tests bench

# Two workers, a test file each at a time (each file deploys its own emulated stacks).
pytest: $(SYNCED)
	$(PY) -m pytest -n 2 --dist loadfile

test-browser: $(SYNCED) ## Opt-in: the summary page rendered by a real headless Chromium (installs Debian's chromium if missing, as root)
	@command -v chromium >/dev/null || { test "$$(id -u)" = 0 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; } || { echo "make test-browser needs Chromium: sudo apt-get install chromium"; exit 2; }
	$(PY) -m pytest -rs tests/browser

test-fast: $(SYNCED) ## The unit tier only (no emulated AWS): seconds, for the inner loop
	$(PY) -m pytest tests/unit

validate: $(SAM)
	$(SAM) validate --lint

build: $(SAM) ## sam build: arm64, no Docker (cross-builds wheels with python3.13)
	$(SAM) build

invoke: $(RUNTIME) ## Run one function on one event, no Docker: FN=ReceiverFunction EVENT=events/receiver/call-status.json [LOCAL=1: in make local's stack]
	@test -n "$(FN)" -a -n "$(EVENT)" || { echo "usage: make invoke FN=<LogicalId> EVENT=<file or ->"; \
		$(PY) -c "from localaws.template import Template; print('FN is one of:', ', '.join(sorted(Template.load().resources_of_type('AWS::Serverless::Function'))))"; exit 2; }
	@$(PY) -m localaws.invoke $(FN) $(EVENT) $(if $(LOCAL),--local)

local: $(RUNTIME) ## The whole pipeline on this machine: PORT (3000), WEBHOOK_TOKEN, AWS_ENDPOINT, BIND_ADDRESS (for sam local: Docker's bridge); EXOTEL_API_URL (+ KEY/TOKEN/ACCOUNT_SID) to sweep on schedule
	@$(PY) -m localaws.stack

demo: $(RUNTIME) ## Play a simulated Exotel campaign (NUMBERS=200) against the local stack and check it (SWEEP=1: callbacks lost; SILENT=1: callbacks stop)
	@$(PY) -m localaws.demo

bench: $(SYNCED) build ## Latency, AWS requests and cost per webhook, one campaign's hot keys, report fetch, a sweep's cost, call details' cost, local end to end, sizes: docs/benchmarks.md
	$(PY) -m bench.latency
	$(PY) -m bench.costs 2>/dev/null
	$(PY) -m bench.hot_keys 2>/dev/null
	$(PY) -m bench.report_fetch
	$(PY) -m bench.sweep_cost 2>/dev/null
	$(PY) -m bench.details_cost 2>/dev/null
	$(PY) -m bench.local_e2e
	$(PY) -m bench.sizes

cost: $(SYNCED) ## A month's AWS bill for your campaigns: NUMBERS= ATTEMPTS= CAMPAIGNS= [RETENTION_DAYS=] [REGION=ap-south-1|us-east-1] [INGRESS=HttpApi|FunctionUrl] [TRACING=PassThrough|Active]
	@NUMBERS="$(NUMBERS)" ATTEMPTS="$(ATTEMPTS)" CAMPAIGNS="$(CAMPAIGNS)" RETENTION_DAYS="$(RETENTION_DAYS)" \
		REGION="$(REGION)" INGRESS="$(INGRESS)" TRACING="$(TRACING)" $(PY) -m bench.bill

# Operations (docs/operations.md): on samconfig.toml's environment (CONFIG_ENV, default
# "default") or a stack named STACK; LOCAL=1 acts on the stack `make local` is running.
OPS = $(PY) -m ops $(if $(LOCAL),--local,--config-env $(or $(CONFIG_ENV),default) $(if $(STACK),--stack $(STACK)))

logs: $(RUNTIME) ## A function's log lines: FN=ReceiverFunction MINUTES=10 FOLLOW=1 FILTER=<pattern>
	$(OPS) logs $(or $(FN),ReceiverFunction) --since $(or $(MINUTES),10) $(if $(FOLLOW),--follow) $(if $(FILTER),--filter '$(FILTER)')

replay-events: $(RUNTIME) ## Send the archived campaign events of FROM..TO to the bus again (RULE=<name>: to one rule): FROM=2026-12-04T09:00 TO=2026-12-04T12:00
	$(OPS) replay-events --from '$(FROM)' --to '$(TO)' $(if $(RULE),--rule '$(RULE)')

redrive: $(RUNTIME) ## Move dead-lettered messages back to their queue: QUEUE=<DLQ logical id> (default all)
	$(OPS) redrive $(QUEUE)

quarantine: $(RUNTIME) ## List quarantined requests: TYPE=call-status SINCE=YYYY-MM-DD
	$(OPS) quarantine $(if $(TYPE),--type $(TYPE)) $(if $(SINCE),--since $(SINCE))

replay: $(RUNTIME) ## Replay quarantined requests through the receiver, each once: KEY=<s3 key> TYPE= SINCE= FORCE=1
	$(OPS) replay $(KEY) $(if $(TYPE),--type $(TYPE)) $(if $(SINCE),--since $(SINCE)) $(if $(FORCE),--force)

refetch: $(RUNTIME) ## Fetch a campaign's report again: CAMPAIGN=<sid> URL=<current report URL>
	$(OPS) refetch '$(CAMPAIGN)' '$(URL)'

erase: $(RUNTIME) ## Erase a subscriber (DPDP): NUMBER=<number> CAMPAIGN=<sid> (optional)
	@test -n "$(NUMBER)" || { echo "usage: make erase NUMBER=<number> [CAMPAIGN=<sid>] [LOCAL=1]"; exit 2; }
	$(OPS) erase '$(NUMBER)' $(if $(CAMPAIGN),--campaign '$(CAMPAIGN)')

recount: $(RUNTIME) ## Rebuild a campaign's counters from its items: CAMPAIGN=<sid> [LOCAL=1]
	@test -n "$(CAMPAIGN)" || { echo "usage: make recount CAMPAIGN=<sid> [LOCAL=1]"; exit 2; }
	$(OPS) recount '$(CAMPAIGN)'

migrate: $(RUNTIME) ## Copy a pre-stream stack's table into this stack's: FROM=<old table name> (docs/architecture.md)
	@test -n "$(FROM)" || { echo "usage: make migrate FROM=<old table name> [LOCAL=1]"; exit 2; }
	$(OPS) migrate '$(FROM)'

number-hash: $(RUNTIME) ## What log lines call a number (the saved query "One number's history"): NUMBER=<number>
	@test -n "$(NUMBER)" || { echo "usage: make number-hash NUMBER=<number> [CONFIG_ENV=|STACK=|LOCAL=1]"; exit 2; }
	@$(OPS) number-hash '$(NUMBER)'

sweep: $(RUNTIME) ## Sweep through Exotel's Campaign API now: CAMPAIGN=<sid> (default: every campaign due); EXOTEL_API_SECRET_ARN or EXOTEL_API_KEY/TOKEN/ACCOUNT_SID; EXOTEL_API_HOST or EXOTEL_API_URL
	@$(OPS) sweep $(if $(CAMPAIGN),'$(CAMPAIGN)')

enrich: $(RUNTIME) ## Call details (cost, duration, recording) of a campaign's final attempts that lack them, asked now: CAMPAIGN=<sid>; credentials and host as make sweep
	@test -n "$(CAMPAIGN)" || { echo "usage: make enrich CAMPAIGN=<sid> [LOCAL=1]"; exit 2; }
	@$(OPS) enrich '$(CAMPAIGN)'

redial: $(RUNTIME) ## A campaign's numbers to call again, as Exotel's contact-list CSV: CAMPAIGN=<sid> [STATUSES=busy,no-answer,failed] [OUT=file.csv] [LOCAL=1]
	@test -n "$(CAMPAIGN)" || { echo "usage: make redial CAMPAIGN=<sid> [STATUSES=...] [OUT=file.csv] [LOCAL=1]"; exit 2; }
	@$(OPS) redial '$(CAMPAIGN)' $(if $(STATUSES),--statuses '$(STATUSES)') $(if $(OUT),--out '$(OUT)')

summary: $(RUNTIME) ## A campaign's summary page (outcomes, connect rates, timeline) as a local HTML file: CAMPAIGN=<sid> [OUT=file.html] [LOCAL=1]
	@test -n "$(CAMPAIGN)" || { echo "usage: make summary CAMPAIGN=<sid> [OUT=file.html] [LOCAL=1]"; exit 2; }
	@$(OPS) summary '$(CAMPAIGN)' $(if $(OUT),--out '$(OUT)')

analytics: $(RUNTIME) ## A campaign's connect rates by hour and attempt, attempts per connect, outcomes, talk time, redials and the campaigns before it: CAMPAIGN=<sid> [QUERY=<name>] [PREVIOUS=5] [LOCAL=1]
	@test -n "$(CAMPAIGN)" || { echo "usage: make analytics CAMPAIGN=<sid> [QUERY=<name>] [PREVIOUS=5] [LOCAL=1]"; exit 2; }
	@$(OPS) analytics '$(CAMPAIGN)' $(if $(QUERY),--query '$(QUERY)') $(if $(PREVIOUS),--previous '$(PREVIOUS)')

sam-env: $(RUNTIME) ## An --env-vars file for sam local invoke / start-api against a stack: CONFIG_ENV= STACK= LOCAL=1 [OUTPUT=.tools/tmp/sam-env.json]
	@$(OPS) sam-env $(if $(OUTPUT),--output '$(OUTPUT)')

sam-local-check: $(RUNTIME) $(SAM) ## Opt-in, needs Docker: every sample event through the real sam local invoke / start-api against make local's stack [SAM_LOCAL_IMAGE=<image>]
	@$(PY) -m localaws.sam_local

smoke: $(RUNTIME) ## Prove a deployed stack works (one webhook of each type, read back, erased): CONFIG_ENV= STACK= LOCAL=1
	$(OPS) smoke

lock: $(UV) ## Re-lock dependencies and export the layer's and the tools' pins
	$(UV) lock --python $(PYTHON313)
	$(UV) export --quiet --frozen --no-dev --no-emit-project --no-header -o layers/common/requirements.txt
	$(UV) pip compile --quiet --python-version 3.13 --python-platform linux tools/requirements-sam.in -o tools/requirements-sam.txt
	$(UV) pip compile --quiet --python-version 3.13 --python-platform linux tools/requirements-security.in -o tools/requirements-security.txt

deploy: $(SAM) ## sam build && sam deploy: GUIDED=1 the first time, CONFIG_ENV=prod for prod (AWS credentials)
	$(SAM) build
	$(SAM) deploy $(if $(GUIDED),--guided) --config-env $(or $(CONFIG_ENV),default)

clean:
	rm -rf .aws-sam .venv .tools .pytest_cache .mypy_cache .ruff_cache .hypothesis
