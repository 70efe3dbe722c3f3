# `make run` serves the app, `make test` runs the checks, `make bench` prints the figures.
# `make check` is the quick loop: lint, then on SQLite the tests the changes can affect.
# Each sets itself up first: a virtual environment in .venv from the lock requirements-dev.txt
# (exact versions with their hashes; `make lock` compiles it again) and the compiled catalogues.
# The browser tests (tests/browser) and `make screenshots` drive Debian's chromium through
# Playwright; without it the tests are skipped and pytest's summary says so. The inbox tests
# start Debian's Dovecot (dovecot-imapd) the same way, and are skipped without it.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Test processes (pytest-xdist): one a core, each with its own PostgreSQL cluster.
WORKERS ?= auto
INSTALLED := $(VENV)/.installed
CATALOGUES := $(wildcard adr/translations/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGUES:.po=.mo)

.PHONY: setup lock run test check lint bench screenshots translations clean

setup: $(INSTALLED) $(COMPILED)

# Exactly the locked versions, each checked against its hashes. The lock names every dependency,
# so pip resolves nothing (--no-deps): an older pip, as venv brings, otherwise takes a package that
# is asked for with extras (weasyprint's fonttools[woff]) as unpinned once a newer release is out.
# pip check then proves the lock complete; pip-sync takes out what the lock no longer names (the
# project too, installed again last, with the locked setuptools).
$(INSTALLED): pyproject.toml requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "make: Python 3.11 or newer is needed, found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes -r requirements-dev.txt
	$(BIN)/python -m pip check
	$(BIN)/pip-sync --quiet requirements-dev.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

# The locks, compiled from pyproject.toml on Linux with Python 3.11 (CI's and production's):
# requirements.txt, the app's dependencies (what production installs), and requirements-dev.txt,
# the same pins with the dev extras. Pins that still fit are kept; `make lock UPGRADE=1` takes
# the newest versions that fit instead.
COMPILE = CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --generate-hashes \
	--allow-unsafe --strip-extras --all-build-deps --no-emit-index-url --no-emit-find-links \
	--no-emit-trusted-host $(if $(UPGRADE),--upgrade)
lock: $(INSTALLED)
	$(COMPILE) --output-file requirements.txt pyproject.toml
	$(COMPILE) --extra dev --constraint requirements.txt --output-file requirements-dev.txt pyproject.toml

%.mo: %.po $(INSTALLED)
	$(BIN)/pybabel compile --statistics -i $< -o $@

run: setup
	$(BIN)/adr db upgrade
	$(BIN)/adr run

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Everything, on both engines: what CI runs.
test: lint
	$(BIN)/pytest -n $(WORKERS)

# The tests of the changed modules and of their dependants (tests/affected.py), on SQLite.
check: lint
	@tests="$$($(BIN)/python -m tests.affected)"; \
	if [ -z "$$tests" ]; then echo "make check: no test is affected by the changes"; \
	elif [ "$$tests" = all ]; then $(BIN)/pytest -n $(WORKERS) --engine sqlite; \
	else $(BIN)/pytest -n $(WORKERS) --engine sqlite $$tests; fi

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
