# Siyu developer entry points. Works on a fresh clone: `make run` and `make test` build what they need.
#
#   make run               local stack in the foreground (API, WeCom sandbox, DynamoDB Local, moto Scheduler);
#                          VERBOSE=1 also shows the JSON logs and metrics it keeps in devstack/.data/logs/
#   make test              ruff + mypy + import contracts + the whole pytest suite (what CI runs; installs
#                          headless Chromium for the dashboard's browser test when it is missing)
#   make test-hours        the functional suite under libfaketime at 23:30 and 10:00 Asia/Shanghai
#   make demo-week         a week of demo activity on the running `make run` (another terminal; same SIYU_*_PORT):
#                          scans, events, groups, spend, staff confirming, the clock moved day by day; then the
#                          dashboard link and the funnel's numbers (devstack/demo_week.py; DAYS=7, SEED=11)
#   make drill             kill the local stack mid-fire and restart it, RUNS times (default 5), and check that no
#                          touch is lost or doubled (devstack/drill.py; CUSTOMERS=30, SEED= to replay a drill)
#   make deploy STAGE=dev|prod PROFILE=small EGRESS=none BUCKET=<artifact bucket> [REGION=] [STACK=]
#                          package, upload and create/update the stack siyu-<stage> (docs/deploy.md)
#   make destroy STAGE=…   delete the stack (prod: CONFIRM=siyu-prod; its tables are retained)
#   make cost              the monthly AWS bill from bench/figures.json and infra/prices.json (docs/cost.md;
#                          ARGS="--customers 100000 --region cn-north-1 …", `python -m infra.cost --help`)
#   make screenshots       the README's console pictures (docs/screenshots/) from a run of the browser tests
#   make test-unit | test-functional | test-integration | lint | bench | package | clean | clean-data | distclean
#
# Ports for `make run`: SIYU_API_PORT SIYU_SANDBOX_PORT SIYU_DYNAMODB_PORT SIYU_MOTO_PORT (8000-8003).

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.stamp-requirements
PYTEST_WORKERS ?= 2
PYTEST := $(PY) -m pytest
MYPY_TARGETS = chalicelib devstack bench infra tests app.py

.PHONY: help system browser venv node run demo-week drill screenshots test test-hours test-unit test-functional test-integration lint bench package deploy destroy cost clean clean-data distclean

help:
	@sed -n '2,21p' Makefile | sed 's/^# \{0,1\}//'

# --- environment ---------------------------------------------------------------------------------------------------

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || \
		echo "WARNING: $(PYTHON) is not Python 3.11 (the Lambda runtime Siyu is packaged for)"
	$(PYTHON) -m venv $(VENV)

# Re-install only when a requirements file changes (the stamp is newer than both otherwise).
$(STAMP): requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	@touch $@

venv: $(STAMP)

# Debian packages (Java 17 for DynamoDB Local, Node.js + npm to install it), only those missing; see the script.
system:
	@bash devstack/system-deps.sh java node

# Headless Chromium and a CJK font for the dashboard's browser test (tests/browser), only when missing.
browser:
	@bash devstack/system-deps.sh chromium

# DynamoDB Local from npm (devstack/node/package-lock.json) when Java >= 17 is there; a notice otherwise.
# Re-runs `npm ci` only when the lock file changed.
node: venv system
	@$(PY) -m devstack.dynamodb_local install

# --- running -------------------------------------------------------------------------------------------------------

run: venv node
	$(PY) -m devstack.run $(if $(VERBOSE),--verbose,)

# Talks to the stack `make run` started (not one of its own): run it in a second terminal.
DAYS ?= 7
SEED ?= 11
demo-week: venv
	$(PY) -m devstack.demo_week --days $(DAYS) --seed $(SEED)

# Its own stacks (free ports, temporary data directories): never the `make run` you may have open.
RUNS ?= 5
CUSTOMERS ?= 30
drill: venv node
	$(PY) -m devstack.drill --runs $(RUNS) --customers $(CUSTOMERS) $(if $(SEED),--seed $(SEED),)

bench: venv node
	$(PY) -m bench

# The deployable stack in out/$(STAGE)/ (sam.json, deployment.zip): chalice package, then the cost profile, log groups,
# alarms and the egress option (python -m infra.package --help; docs/deploy.md, Packaging). No AWS credentials needed.
STAGE ?= dev
PROFILE ?= small
EGRESS ?= none
package: venv
	rm -rf out/$(STAGE)
	$(PY) -m infra.package --stage $(STAGE) --profile $(PROFILE) --egress $(EGRESS) --out out/$(STAGE)

# --- deploying (docs/deploy.md) and its bill (docs/cost.md) ---------------------------------------------------------

STAGE ?= dev
PROFILE ?= small
EGRESS ?= none
deploy: venv
	$(PY) -m infra.deploy deploy --stage $(STAGE) --profile $(PROFILE) --egress $(EGRESS) \
		$(if $(BUCKET),--bucket $(BUCKET),) $(if $(REGION),--region $(REGION),) $(if $(STACK),--stack $(STACK),) \
		$(if $(ALARM_EMAIL),--alarm-email $(ALARM_EMAIL),)

destroy: venv
	$(PY) -m infra.deploy destroy --stage $(STAGE) $(if $(CONFIRM),--confirm $(CONFIRM),) \
		$(if $(REGION),--region $(REGION),) $(if $(STACK),--stack $(STACK),)

cost: venv
	$(PY) -m infra.cost $(ARGS)

# The README's console pictures (docs/screenshots/) from a fresh run of the browser tests, which keep every page at
# 1280 and 360 px in test-artifacts/screenshots/.
README_SHOTS = ops-home-1280 ops-channel-poster-1280 ops-plan-import-bad-row-1280 ops-plan-preview-1280 \
	ops-customers-customer_id-1280 ops-content-1280 staff-my-day-360 staff-task-done-360 staff-sidebar-customer-360
screenshots: venv node browser
	$(PYTEST) -n 0 -p no:cacheprovider -q tests/browser
	@mkdir -p docs/screenshots
	@for shot in $(README_SHOTS); do cp test-artifacts/screenshots/$$shot.png docs/screenshots/ || exit 1; done
	@echo "docs/screenshots/: $(words $(README_SHOTS)) pictures refreshed"

# --- checks --------------------------------------------------------------------------------------------------------

lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy $(MYPY_TARGETS)
	$(BIN)/lint-imports

# Every step runs even if an earlier one fails, so one CI run shows everything; pytest's closing line comes last.
test: venv node browser
	@failed=""; \
	echo "==> ruff check ."; $(BIN)/ruff check . || failed="$$failed ruff"; \
	echo "==> mypy $(MYPY_TARGETS)"; $(BIN)/mypy $(MYPY_TARGETS) || failed="$$failed mypy"; \
	echo "==> lint-imports (layer contracts in pyproject.toml)"; $(BIN)/lint-imports --no-cache || failed="$$failed lint-imports"; \
	echo "==> pytest -n $(PYTEST_WORKERS) tests/ (CI=$${CI:-})"; \
	if [ -n "$$failed" ]; then echo "make test: FAILED:$$failed (pytest runs anyway)"; fi; \
	$(PYTEST) -n $(PYTEST_WORKERS) --dist loadgroup tests/ || failed="$$failed pytest"; \
	if [ -n "$$failed" ]; then echo "make test: FAILED:$$failed"; exit 1; fi

# The functional suite again under a shifted system clock (libfaketime), at 23:30 and at 10:00 Asia/Shanghai on
# today's date there: no test may depend on the hour it runs at (quiet hours start at 22:00). CI runs this too.
# The fuzz run is left out here (it runs in `make test`): schemathesis's stateful phase waits on its worker threads
# for ever under libfaketime's shifted clocks, and its scratch tenant is on the frozen test clock anyway.
HOURS ?= 23:30 10:00
test-hours: venv
	@bash devstack/system-deps.sh faketime
	@failed=""; today=$$(TZ=Asia/Shanghai date +%F); for hm in $(HOURS); do \
		at=$$(date -u -d "$$today $$hm:00 +0800" '+%F %T'); \
		echo "==> functional suite at $$today $$hm Asia/Shanghai (faketime @$$at UTC)"; \
		TZ=UTC faketime -f "@$$at" $(PYTEST) -n $(PYTEST_WORKERS) -p no:cacheprovider \
			--deselect tests/functional/test_fuzz.py tests/functional || failed="$$failed $$hm"; \
	done; if [ -n "$$failed" ]; then echo "make test-hours: FAILED at:$$failed"; exit 1; fi

# Sub-suites: a folder without tests yet (pytest exit 5) is not an error here.
define run_suite
	@$(PYTEST) $(1) || { rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests in $(2) yet"; else exit $$rc; fi; }
endef

test-unit: venv
	$(call run_suite,tests/unit,tests/unit)

test-functional: venv
	$(call run_suite,-n $(PYTEST_WORKERS) tests/functional,tests/functional)

test-integration: venv node
	$(call run_suite,-n $(PYTEST_WORKERS) tests/integration,tests/integration)

# --- cleaning ------------------------------------------------------------------------------------------------------

clean:
	rm -rf out .pytest_cache .mypy_cache .ruff_cache
	find . -path ./$(VENV) -prune -o -path ./devstack/node/node_modules -prune -o -name __pycache__ -type d -exec rm -rf {} +

# Drops the local DynamoDB data, admin token and demo tenant secrets (stop `make run` first).
clean-data:
	rm -rf devstack/.data

distclean: clean clean-data
	rm -rf $(VENV) devstack/node/node_modules
