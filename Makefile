# Two commands on a fresh machine: `make run` and `make test`.
#
# Installs come from uv.lock (every package pinned with its hashes); pyproject.toml keeps the
# honest ranges for anyone installing the package as a library. uv itself is pinned by hash in
# .ci/uv-requirements.txt and lives in its own venv (.tools), so `uv sync` can make .venv exact.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TOOLS := .tools
UV := $(TOOLS)/bin/uv

# uv uses the machine's Python and never downloads one of its own.
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

CHROMIUM := /usr/bin/chromium

.PHONY: run test lint format bench flakes lock install clean browser node classifier chaos fuzz

$(UV): .ci/uv-requirements.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --require-hashes --no-deps -r .ci/uv-requirements.txt
	touch $(UV)

# Bytecode is compiled at install: where PYTHONDONTWRITEBYTECODE is set (as on CI machines), every `checkin`
# command and test subprocess would otherwise compile SQLAlchemy, Flask and the rest from source each time.
$(STAMP): uv.lock pyproject.toml $(UV)
	$(UV) sync --frozen --extra test --compile-bytecode --python $(PYTHON) --quiet
	touch $(STAMP)

install: $(STAMP)

# Upgrade the pinned versions on purpose (then run `make test` and commit uv.lock).
lock: $(UV)
	$(UV) lock --upgrade --python $(PYTHON)

# The console's browser tests drive Debian's Chromium (Playwright's own browser downloads are not used).
browser:
	@test -x $(CHROMIUM) || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
		|| echo "make: could not install chromium; the browser tests will skip (or fail with CHECKIN_REQUIRE_SERVICES=1)"

# Test-only JavaScript from npm (axe-core, which tests/browser/test_accessibility.py injects into every
# console page), exactly as package-lock.json pins it with integrity hashes; reinstalled when the lock changes.
NODE_STAMP := node_modules/.installed
$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm; }
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

node: $(NODE_STAMP)

# `checkin dev` (checkin/cli/dev.py): migrate, embedded Valkey, demo data, web + worker + cron.
run: $(STAMP)
	$(BIN)/checkin dev

# Lint, format and the import contract are part of the suite: a change that breaks them fails `make test`.
lint: $(STAMP)
	$(UV) lock --check --offline --python $(PYTHON) --quiet
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The project's own bytecode too, for the same reason (a second or more per `checkin` subprocess in the tests).
PROJECT_CODE := checkin webhooks workers config migrations bench tests
test: $(STAMP) browser node lint
	$(BIN)/python -m compileall -q -j 0 $(PROJECT_CODE) >/dev/null
	$(BIN)/python -m pytest -n 2 -q

# The whole suite three times in a row with the other core busy: every test must pass every time.
flakes: $(STAMP) browser node
	$(BIN)/python -m compileall -q -j 0 $(PROJECT_CODE) >/dev/null
	@$(PYTHON) -c "while True: pass" & busy=$$!; trap "kill $$busy" EXIT; \
	for run in 1 2 3; do echo "flakes: run $$run of 3, one core loaded"; \
		$(BIN)/python -m pytest -n 2 -q -p no:randomly || exit 1; done

# Retrain the risk classifier (the rules' statistical second opinion) from tests/corpus; deterministic.
classifier: $(STAMP)
	$(BIN)/python -m checkin.rules.train_classifier --report

# The fault table (tests/faults/): web, worker and cron from the Procfile as real processes, one fault per
# row, pending rows (work in progress elsewhere) reported but not failing. Its fast row runs in `make test`.
chaos: $(STAMP)
	$(BIN)/python -m tests.faults --pending

# The Twilio webhooks fuzzed with 10,000 signed but malformed requests (500 of them run in `make test`).
fuzz: $(STAMP)
	CHECKIN_FUZZ_EXAMPLES=10000 $(BIN)/python -m pytest -q -p no:randomly tests/test_webhook_fuzz.py

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(TOOLS) instance node_modules
