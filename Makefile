# The two commands of the README (`make run`, `make test`) and the habits behind them.
# Each target creates or updates the virtual environment in .venv first; a second
# run skips the install when pyproject.toml and constraints.txt have not changed.

PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& { echo $$p; break; }; done)
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: run test lint bench venv chromium ts-client

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -n "$(PYTHON)" || { echo "make: Python >= 3.11 is required (python3.11 or newer on PATH)" >&2; exit 1; }
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	@echo "make: installing SongTrackPro and its dependencies into $(VENV) (a couple of minutes the first time)"
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $@

run: $(STAMP)
	$(VENV)/bin/songtrack run $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

test: lint chromium ts-client
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# The npm packages of the TypeScript client's test (tests/http_api/test_generated_ts_client.py), pinned in
# tools/ts-client's package-lock.json; a second run skips the install until the lock file changes. Node.js
# and npm: as root with apt, installed when missing; otherwise one line names them and make stops (the test
# would fail without them: it does not skip).
TS_CLIENT := tools/ts-client
TS_STAMP := $(TS_CLIENT)/node_modules/.installed

ts-client: $(TS_STAMP)

$(TS_STAMP): $(TS_CLIENT)/package.json $(TS_CLIENT)/package-lock.json
	@command -v npm >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "make: installing Debian's nodejs and npm packages for the TypeScript client's test (apt-get)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; \
	  else \
	    echo "make: Node.js and npm are missing: install the nodejs and npm packages (apt-get install nodejs npm)" >&2; \
	    exit 1; \
	  fi; }
	npm ci --prefix $(TS_CLIENT) --no-audit --no-fund --loglevel=error
	@touch $@

# The browser tests (tests/browser) drive Debian's Chromium. When it is missing: as root with apt, install it;
# otherwise one line names the package, and those tests fail saying the same.
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "make: installing Debian's chromium package for the browser tests (apt-get)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "make: Chromium is missing: install the chromium package (apt-get install chromium); the browser tests fail"; \
	  fi; }

bench: $(STAMP)
	$(VENV)/bin/python bench/db.py
	$(VENV)/bin/python bench/api.py
	$(VENV)/bin/python bench/providers.py
	$(VENV)/bin/python bench/pipeline.py --actors 1000 --poll-interval 60 --processes 2
	$(VENV)/bin/python bench/rules.py
	$(VENV)/bin/python bench/live.py
	$(VENV)/bin/python bench/console.py
	$(VENV)/bin/python bench/audit.py
