# `make run` serves the app, `make test` runs the checks, `make bench` prints the figures.
# Each sets itself up first: a virtual environment in .venv and the compiled catalogues.
# The browser tests (tests/browser) and `make screenshots` drive Debian's chromium through
# Playwright; without it the tests are skipped and pytest's summary says so.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
CATALOGUES := $(wildcard adr/translations/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGUES:.po=.mo)

.PHONY: setup run test lint bench screenshots translations clean

setup: $(INSTALLED) $(COMPILED)

$(INSTALLED): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "make: Python 3.11 or newer is needed, found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

%.mo: %.po $(INSTALLED)
	$(BIN)/pybabel compile --statistics -i $< -o $@

run: setup
	$(BIN)/adr db upgrade
	$(BIN)/adr run

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

bench: setup
	$(BIN)/python -m bench

# docs/screenshots/*.png for the README, from demo data on a temporary database.
screenshots: setup
	$(BIN)/python -m bench.screenshots

# After changing interface text: collect it, then translate the new entries in the .po files.
translations: $(INSTALLED)
	$(BIN)/pybabel extract --no-location --sort-output -F babel.cfg -k _l -o adr/translations/messages.pot .
	$(BIN)/pybabel update --no-fuzzy-matching --ignore-obsolete -i adr/translations/messages.pot -d adr/translations

clean:
	rm -rf $(VENV) $(COMPILED)
