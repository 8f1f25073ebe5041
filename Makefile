# The two commands of the README: `make demo` and `make test`. Both create the virtualenv on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test lint unit bench faults stack-fetch clean chromium

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || \
	  { echo "Python 3.11+ is needed (found: $$($(PYTHON) --version 2>&1)); set PYTHON=python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(PY) -m hub demo

# The mall's browser tests drive Debian's Chromium (never a browser Playwright downloads itself).
chromium:
	@[ -x /usr/bin/chromium ] || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get install -y -qq chromium; fi; } || \
	  { echo "Debian's chromium is needed for the browser tests: apt-get install chromium"; exit 1; }

# Style and types first (pyproject.toml: ruff's pyflakes, pycodestyle, isort and bugbear on the whole tree;
# mypy on hub/):
# `make test`, and so CI, fails on a lint or type error before any test runs.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test: $(STAMP) chromium lint
	$(PY) -m pytest

unit: $(STAMP)
	$(PY) -m pytest tests/unit

bench: $(STAMP)
	$(PY) -m pip install -q -e '.[dev,bench]'
	$(PY) -m bench

# The fault campaign of issue 11 on the real stack (~15 min; FAULTS_ARGS=--quick: ~10); not part of `make test`.
faults: $(STAMP)
	$(PY) -m bench.faults $(FAULTS_ARGS)

stack-fetch: $(STAMP)
	$(PY) -m hub dev fetch

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info
