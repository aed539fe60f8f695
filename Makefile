# Onyx: the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help run test test-fast lint synth deploy destroy clean report bench

# Two workers: the suite is mostly waiting on PostgreSQL and child processes. --durations: the 25 slowest
# steps are printed with the total time, so a test that starts to cost shows at once.
PYTEST_ARGS ?= -n 2 --dist loadgroup --durations=25
# The inner loop: everything but the tests marked slow (end-to-end runs on the local cloud, the campaign,
# subprocess CLIs; each takes more than a few seconds).
PYTEST_FAST_ARGS ?= -n 2 --dist loadgroup -m "not slow" --durations=10
SCALE ?= 1000000
BENCH_ARGS ?=
ONYX_ENV ?= dev
CDK_ARGS ?=
CDK := npx --no-install cdk

help:
	@echo "make run    - the whole pipeline on a local cloud: seed, run, change, run again, report"
	@echo "make test   - the test suite (real PostgreSQL, moto), with its 25 slowest steps and total time"
	@echo "make test-fast - the inner loop: the suite without the tests marked slow"
	@echo "make lint   - ruff, mypy, bandit, secret scan, pip-audit"
	@echo "make bench  - floor, full load and incremental run on the local cloud at SCALE sales orders (default 1000000)"
	@echo "make synth  - synthesize the CDK app offline (cdk-nag checks included)"
	@echo "make deploy - deploy to the AWS account of your credentials (ONYX_ENV=dev|prod)"

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m local run

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(PY) -m pytest $(PYTEST_FAST_ARGS)

bench: $(STAMP)
	$(PY) -m bench.run --scale $(SCALE) $(BENCH_ARGS)

report: $(STAMP)
	$(PY) -m local report --out reports/onyx-report.html

lint: $(STAMP) security
	$(PY) -m ruff check .
	$(PY) -m mypy lambdas local analytics ops stacks bench app.py

node_modules/.bin/cdk: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

synth: $(STAMP) node_modules/.bin/cdk
	$(CDK) synth --quiet -c env=$(ONYX_ENV) $(CDK_ARGS)

deploy: $(STAMP) node_modules/.bin/cdk
	$(CDK) deploy -c env=$(ONYX_ENV) $(CDK_ARGS) --require-approval broadening

destroy: $(STAMP) node_modules/.bin/cdk
	$(CDK) destroy -c env=$(ONYX_ENV) $(CDK_ARGS)

clean:
	rm -rf $(VENV) node_modules cdk.out .build .pytest_cache .mypy_cache .ruff_cache

# Security checks (part of lint). Paths and files can be overridden: tests/hardening/test_lint_gates.py plants
# findings in a temporary directory and expects each check to fail on them.
BANDIT_PATHS ?= lambdas local analytics ops stacks app.py
SECRET_BASELINE ?= .secrets.baseline
SECRET_SCAN_FILES ?= $$(git ls-files --cached --others --exclude-standard | grep -vxF '$(SECRET_BASELINE)')
AUDIT_REQUIREMENTS ?= -r requirements.txt -r requirements-dev.txt
# --strict: a pin the vulnerability service cannot check is a failure too. Where the service is out of
# reach (an offline mirror), run `make lint PIP_AUDIT_STRICT=` and audit again where it is reachable.
PIP_AUDIT_STRICT ?= --strict

.PHONY: security bandit secret-scan audit soak
security: bandit secret-scan audit

bandit: $(STAMP)
	$(PY) -m bandit -q --severity-level high -r $(BANDIT_PATHS)

# The hook fails (1) on a secret the baseline does not list. It exits 3 and rewrites the baseline when a listed
# one only moved to another line: that is no finding, so it runs on a copy and the committed baseline stays put.
secret-scan: $(STAMP)
	@copy=$$(mktemp) && cp $(SECRET_BASELINE) $$copy && \
	  { out=$$($(VENV)/bin/detect-secrets-hook --baseline $$copy $(SECRET_SCAN_FILES) 2>&1); rc=$$?; rm -f $$copy; } && \
	  if [ $$rc -eq 3 ]; then echo "secret-scan: no new secrets (listed ones moved: refresh with" \
	    "'detect-secrets scan --baseline $(SECRET_BASELINE)')"; elif [ $$rc -ne 0 ]; then echo "$$out"; exit $$rc; fi

audit: $(STAMP)
	$(VENV)/bin/pip-audit $(PIP_AUDIT_STRICT) --progress-spinner off --no-deps --disable-pip $(AUDIT_REQUIREMENTS)

# The fault campaign at length (before a release): ONYX_CAMPAIGN_EXAMPLES sequences, randomly seeded.
soak: $(STAMP)
	ONYX_CAMPAIGN_EXAMPLES=$${ONYX_CAMPAIGN_EXAMPLES:-200} $(PY) -m pytest -p no:cacheprovider -x \
	  "tests/hardening/test_campaign.py::test_random_sequences_of_activity_faults_and_runs_keep_the_four_invariants"
