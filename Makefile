# Onyx: the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help run test lint synth deploy destroy clean report bench

# Two workers: the suite is mostly waiting on PostgreSQL and child processes.
PYTEST_ARGS ?= -n 2 --dist loadgroup
SCALE ?= 1000000
BENCH_ARGS ?=
ONYX_ENV ?= dev
CDK_ARGS ?=
CDK := npx --no-install cdk

help:
	@echo "make run    - the whole pipeline on a local cloud: seed, run, change, run again, report"
	@echo "make test   - the test suite (real PostgreSQL, moto)"
	@echo "make lint   - ruff and mypy"
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

bench: $(STAMP)
	$(PY) -m bench.run --scale $(SCALE) $(BENCH_ARGS)

report: $(STAMP)
	$(PY) -m local report --out reports/onyx-report.html

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy lambdas local stacks bench app.py

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
