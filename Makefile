# The only entry points people need. Everything installs into .venv with the machine's python3.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
STAMP  := $(VENV)/.installed

.PHONY: setup demo serve test test-fast check lint format bench browser-deps clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

## make demo: SQLite database with the demo clinics, served on http://127.0.0.1:$(PORT)
demo: setup
	$(BIN)/medassist demo --port $(PORT)

serve: setup
	$(BIN)/medassist serve --port $(PORT)

## make test: the whole suite (browser tests run when /usr/bin/chromium is present)
test: setup
	$(BIN)/python -m pytest -q

test-fast: setup
	$(BIN)/python -m pytest -q -m "not browser" -x

## make check: lint, format, types, import contracts, migrations up to date
check: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy medassist config
	$(BIN)/lint-imports
	$(BIN)/medassist makemigrations --check --dry-run

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## make bench: speed figures (patient search, chart open) on SQLite, and PostgreSQL if reachable
bench: setup
	$(BIN)/python bench/run.py

## Debian's Chromium for the browser tests (Playwright's own download does not work offline)
browser-deps:
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

clean:
	rm -rf $(VENV) var build *.egg-info
