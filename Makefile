# Onyx: the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Node.js 24 (LTS) from package.json's `node` package, not the machine's: first on PATH for the CDK CLI and the
# validators, and JSII_NODE for every Python process that imports the CDK (app.py and the tests also set it).
NODE_BIN := $(CURDIR)/node_modules/.bin
export PATH := $(NODE_BIN):$(PATH)
# Bytecode caches on (even where the machine's environment turns them off): pytest keeps its assertion-rewritten
# modules there, and each test process, command line and handler environment then skips compiling ours again.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: help run test test-fast lint synth deploy destroy smoke clean report bench

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
# npm ci's mark: node_modules holds the CDK CLI and asl-validator of package-lock.json.
NODE_STAMP := node_modules/.installed

help:
	@echo "make run    - the whole pipeline on a local cloud: seed, run, change, run again, report"
	@echo "make test   - the test suite (real PostgreSQL, moto), with its 25 slowest steps and total time"
	@echo "make test-fast - the inner loop: the suite without the tests marked slow"
	@echo "make lint   - ruff, mypy, bandit, secret scan, pip-audit; cfn-lint, checkov, asl-validator on every env's synth"
	@echo "make bench  - floor, full load and incremental run on the local cloud at SCALE sales orders (default 1000000)"
	@echo "make synth  - synthesize the CDK app offline (cdk-nag checks included)"
	@echo "make deploy - deploy to the AWS account of your credentials (ONYX_ENV=dev|prod)"
	@echo "make smoke  - after a deploy: one run, the warehouse views from inside AWS, and what is left to do (ONYX_ENV=dev|prod)"

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

run: $(STAMP) $(NODE_STAMP)
	$(PY) -m local run

test: $(STAMP) $(NODE_STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP) $(NODE_STAMP)
	$(PY) -m pytest $(PYTEST_FAST_ARGS)

bench: $(STAMP) $(NODE_STAMP)
	$(PY) -m bench.run --scale $(SCALE) $(BENCH_ARGS)

report: $(STAMP)
	$(PY) -m local report --out reports/onyx-report.html

lint: $(STAMP) security lint-templates
	$(PY) -m ruff check .
	$(PY) -m mypy lambdas local analytics ops stacks bench app.py

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

synth: $(STAMP) $(NODE_STAMP)
	$(CDK) synth --quiet -c env=$(ONYX_ENV) $(CDK_ARGS)

deploy: $(STAMP) $(NODE_STAMP)
	$(CDK) deploy -c env=$(ONYX_ENV) $(CDK_ARGS) --require-approval broadening

destroy: $(STAMP) $(NODE_STAMP)
	$(CDK) destroy -c env=$(ONYX_ENV) $(CDK_ARGS)

# The first check after `make deploy`, with your AWS credentials (AWS_PROFILE, AWS_REGION): SMOKE_ARGS=--json for
# one JSON object, --policy for the IAM policy it needs.
SMOKE_ARGS ?=
smoke: $(STAMP)
	$(PY) -m ops smoke --stack Onyx-$(ONYX_ENV) $(SMOKE_ARGS)

clean:
	rm -rf $(VENV) node_modules cdk.out .build .pytest_cache .mypy_cache .ruff_cache

# Security checks (part of lint). Paths and files can be overridden: tests/hardening/test_lint_gates.py plants
# findings in a temporary directory and expects each check to fail on them.
BANDIT_PATHS ?= lambdas local analytics ops stacks app.py
SECRET_BASELINE ?= .secrets.baseline
SECRET_SCAN_FILES ?= $$(git ls-files --cached --others --exclude-standard | grep -vxF '$(SECRET_BASELINE)')
AUDIT_REQUIREMENTS ?= -r requirements.txt -r requirements-dev.txt -r requirements-checkov.txt
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

# Third-party validators on the synthesized templates (part of lint). lint-synth synthesizes every environment of
# cdk.json, and each variant of stacks/lint_templates.py (dev-vpc: dev in a VPC, with every endpoint), through the
# CDK CLI, as `make synth` does, into $(LINT_DIR)/<target>; then cfn-lint, checkov and
# asl-validator (on each state machine's definition) run on the templates, and any finding fails. Skips, each with
# its reason: .cfnlintrc.yaml, .checkov.yaml. tests/hardening/test_lint_gates.py runs each validator on planted
# templates: LINT_TEMPLATES=<files> LINT_SYNTH= (no synth).
LINT_DIR ?= .build/lint
LINT_ENVS ?= $$($(PY) -m stacks.lint_templates targets)
LINT_TEMPLATES ?= $(LINT_DIR)/*/*.template.json
LINT_SYNTH ?= lint-synth
CHECKOV_VENV := .build/checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed

.PHONY: lint-templates lint-synth cfn-lint checkov asl-validate
lint-templates: cfn-lint checkov asl-validate

# Bundled like `make synth` (CDK takes no `aws:` context from the command line to skip it); the Lambda
# dependencies are cached in .build/lambda-deps, so each environment costs its synth, about 20 s here.
lint-synth: $(STAMP) $(NODE_STAMP)
	rm -rf $(LINT_DIR)
	@set -e; envs="$(LINT_ENVS)"; for env in $$envs; do \
	  args=$$($(PY) -m stacks.lint_templates synth-args $$env); \
	  echo "$(CDK) synth --quiet -o $(LINT_DIR)/$$env $$args"; \
	  $(CDK) synth --quiet -o $(LINT_DIR)/$$env $$args; \
	done

cfn-lint: $(STAMP) $(LINT_SYNTH)
	$(VENV)/bin/cfn-lint $(LINT_TEMPLATES)

$(CHECKOV_STAMP): requirements-checkov.txt
	rm -rf $(CHECKOV_VENV)
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $@

# checkov exits 0 on a file it cannot parse (or cannot find): that fails here, so it never passes on nothing.
checkov: $(CHECKOV_STAMP) $(LINT_SYNTH)
	@out=$$($(CHECKOV_VENV)/bin/checkov --config-file .checkov.yaml -f $(LINT_TEMPLATES) 2>&1); rc=$$?; \
	  echo "$$out"; if echo "$$out" | grep -q "Parsing errors: [1-9]"; then exit 1; fi; exit $$rc

asl-validate: $(STAMP) $(NODE_STAMP) $(LINT_SYNTH)
	@set -e; definitions=$$($(PY) -m stacks.lint_templates definitions $(LINT_TEMPLATES)); \
	  node_modules/.bin/asl-validator $$(printf -- '--json-path %s ' $$definitions)

# The fault campaign at length (before a release): ONYX_CAMPAIGN_EXAMPLES sequences, randomly seeded.
soak: $(STAMP)
	ONYX_CAMPAIGN_EXAMPLES=$${ONYX_CAMPAIGN_EXAMPLES:-200} $(PY) -m pytest -p no:cacheprovider -x \
	  "tests/hardening/test_campaign.py::test_random_sequences_of_activity_faults_and_runs_keep_the_four_invariants"
