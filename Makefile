# The two commands a newcomer types: `make demo` and `make test`.
# Both create .venv from the pinned lock file when it is missing or out of date, then do their job.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
PYTHON ?= python3
# This machine's pip configuration names package folders that may be absent: drop that noise.
QUIET_PIP := { grep -v "^WARNING: Location" || true; }
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The browser tests drive Debian's chromium (never a downloaded one); installed once, as root.
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get -y -q

.PHONY: demo test lint env clean bench

demo: $(STAMP)
	$(BIN)/python -m mlops_jupyter.demo

test: $(STAMP) lint
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check mlops_jupyter tests benchmarks
	$(BIN)/ruff format --check mlops_jupyter tests benchmarks
	$(BIN)/mypy mlops_jupyter

env: $(STAMP)

# Installs exactly the versions in requirements.lock (what the tests ran with), then this package.
$(STAMP): requirements.lock pyproject.toml | $(CHROMIUM)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.lock 2>&1 | $(QUIET_PIP)
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e . 2>&1 | $(QUIET_PIP)
	touch $@

$(CHROMIUM):
	$(APT) install chromium >/dev/null || { $(APT) update >/dev/null && $(APT) install chromium >/dev/null; }

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_datasets.py
	$(BIN)/python benchmarks/bench_tracking.py
	$(BIN)/python benchmarks/bench_serve.py
	$(BIN)/python benchmarks/bench_drift.py

clean:
	rm -rf $(VENV) build
