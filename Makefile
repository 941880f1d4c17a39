# Two commands for a fresh machine with Python 3.11+: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install run test bench lint clean chromium

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "touchpoint needs Python 3.11 or newer (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,spark]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/touchpoint demo

# One worker per core; the Spark tests form one group, so one worker holds the Spark session.
test: install chromium
	$(BIN)/python -m pytest -n auto --dist loadgroup

# The browser tests drive Debian's chromium (Playwright downloads no browser); the
# dashboard's screenshots use the Inter font when it is there.
chromium:
	@{ test -x /usr/bin/chromium && test -d /usr/share/fonts/opentype/inter; } || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium fonts-inter >/dev/null; }

# Each benchmark prints its figures beside a plain reference measured in the same run.
# The collector's is driven by Debian's wrk; the path models are compared with
# ChannelAttribution, which is GPL and so lives in a scratch environment of its own.
CA := .venv-channelattribution
bench: install
	@command -v wrk >/dev/null || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq wrk >/dev/null; }
	@test -x $(CA)/bin/python || { $(PYTHON) -m venv $(CA) && $(CA)/bin/python -m pip install --quiet channelattribution matplotlib; }
	$(BIN)/python bench/build.py
	$(BIN)/python bench/collector.py
	$(BIN)/python bench/vendor_import.py
	$(BIN)/python bench/paths.py --ca-python $(CA)/bin/python
	$(BIN)/python bench/dni.py

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) $(CA) .pytest_cache .hypothesis .touchpoint-demo
