# mailadmin: `make run` and `make test` do all set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
DEMO_DOMAIN ?= example.com
DEMO_ACCOUNTS ?= 300
DEMO_ADMIN_PASSWORD ?=
PG_URL ?= postgres://postgres@127.0.0.1:5432/test
PG_TEST_DB ?= test_mailadmin

.PHONY: install run test test-pg test-browser lint format messages bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

# axe-core for the accessibility checks, where npm is available (else they skip).
node_modules/.installed: package.json package-lock.json
	@if command -v npm >/dev/null; then npm ci --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm not found: the accessibility checks will be skipped"; fi

install: $(VENV)/.installed

# The demo office comes from the devtools app (installed unless
# MAILADMIN_DEVTOOLS=0, which production sets).
run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo --if-missing --domain "$(DEMO_DOMAIN)" --accounts "$(DEMO_ACCOUNTS)" \
		--base-url "http://127.0.0.1:$(PORT)" $(if $(DEMO_ADMIN_PASSWORD),--admin-password "$(DEMO_ADMIN_PASSWORD)")
	@# The background worker (big roster exports) runs beside the server and
	@# stops with it.
	$(PY) manage.py db_worker --no-reload --interval 1 & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(PY) manage.py runserver "127.0.0.1:$(PORT)"

test: install node_modules/.installed
	$(PY) -m pytest $(PYTEST_ARGS)

test-pg: install node_modules/.installed
	DATABASE_URL="$(PG_URL)" TEST_DATABASE_NAME=$(PG_TEST_DB) $(PY) -m pytest $(PYTEST_ARGS)

test-browser: install
	$(PY) -m pytest -m browser $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Re-extract the catalogue and compile it (needs GNU gettext); the compiled
# .mo is committed so a fresh machine needs no gettext.
messages: install
	$(PY) manage.py makemessages -l ko --no-obsolete --no-location --ignore '.venv/*' --ignore 'node_modules/*'
	$(PY) manage.py compilemessages -l ko --ignore '.venv/*'

clean:
	rm -rf $(VENV) staticfiles
