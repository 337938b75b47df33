# The two commands a newcomer types: `make demo` and `make test`.
# Both create .venv from the pinned lock file when it is missing or out of date, then do their job.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
PYTHON ?= python3
# This machine's pip configuration names package folders that may be absent: drop that noise.
QUIET_PIP := { grep -v "^WARNING: Location" || true; }
VENV := .venv
BIN := $(VENV)/bin
DEPS := $(VENV)/.deps
STAMP := $(VENV)/.installed
# The sidebar: TypeScript in labextension/, built with npm into the package (shipped in the wheel).
NODE_MODULES := labextension/node_modules/.installed
LABEXT := mlops_jupyter/labextension/package.json
LAB_SOURCES := $(shell find labextension/src labextension/style -type f) labextension/tsconfig.json
WITH_VENV := PATH="$(abspath $(BIN)):$$PATH"
# The browser tests drive Debian's chromium (never a downloaded one); the team tests start
# Debian's PostgreSQL and Prometheus on 127.0.0.1. Installed once, as root.
CHROMIUM := /usr/bin/chromium
POSTGRES := /usr/lib/postgresql/15/bin/initdb
PROMETHEUS := /usr/bin/promtool
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get -y -q

# Bytecode is written as modules are first imported, as Python does by default. Where
# PYTHONDONTWRITEBYTECODE is set (as on these machines) every kernel, endpoint and CLI process would
# compile sklearn, scipy, pandas and mlflow again (9 s instead of 4 s per process); compiling the
# whole environment up front instead takes a minute, for mostly modules nothing imports.
unexport PYTHONDONTWRITEBYTECODE

DEMO := build/demo
ALLOW_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

.PHONY: demo test lint env clean bench lab stop

demo: $(STAMP)
	$(BIN)/python -m mlops_jupyter.demo --project $(DEMO)

# JupyterLab (with the sidebar) on the demo project; made without running it if `make demo` was not.
lab: $(STAMP)
	test -d $(DEMO)/.git || $(BIN)/python -m mlops_jupyter.demo --project $(DEMO) --prepare
	$(WITH_VENV) jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.root_dir=$(DEMO) $(ALLOW_ROOT)

# Ends the endpoints and dashboards the demo started.
stop: $(STAMP)
	$(BIN)/python -m mlops_jupyter.demo --project $(DEMO) --stop

# The tests run in two processes (pytest-xdist; a module's tests stay together, the longest modules
# first, in the order conftest.py gives) and print the line
# coverage of mlops_jupyter, including the endpoint and CLI processes they start.
# PYTEST_ARGS replaces those options: PYTEST_ARGS="-x" runs one process, without coverage.
PYTEST_ARGS ?= -n 2 --dist loadgroup --no-loadscope-reorder --cov --cov-report=term
test: $(STAMP) lint
	cd labextension && npx --no vitest run --silent
	$(BIN)/python -m pytest -q --durations=15 $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check mlops_jupyter tests benchmarks
	$(BIN)/ruff format --check mlops_jupyter tests benchmarks
	$(BIN)/mypy mlops_jupyter
	cd labextension && node_modules/.bin/eslint src test
	cd labextension && node_modules/.bin/prettier --check --log-level warn src test style eslint.config.mjs

env: $(STAMP)

# Installs exactly the versions in requirements.lock (what the tests ran with), builds the sidebar,
# then installs this package (editable) with its server and lab extensions enabled.
# uv installs the lock file's wheels in parallel: about 10 s on a fresh machine, against pip's 2.5 min.
$(DEPS): requirements.lock | $(CHROMIUM) $(POSTGRES) $(PROMETHEUS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check $$(grep "^uv==" requirements.lock) 2>&1 | $(QUIET_PIP)
	$(BIN)/uv pip install -q --python $(BIN)/python -r requirements.lock
	touch $@

$(NODE_MODULES): labextension/package.json labextension/package-lock.json
	cd labextension && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(LABEXT): $(NODE_MODULES) $(DEPS) $(LAB_SOURCES)
	cd labextension && $(WITH_VENV) npm run --silent build
	touch $@

$(STAMP): $(DEPS) $(LABEXT) pyproject.toml
	$(WITH_VENV) $(BIN)/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e . 2>&1 | $(QUIET_PIP)
	touch $@

APT_INSTALL = $(APT) install --no-install-recommends $(1) >/dev/null || \
	{ $(APT) update >/dev/null && $(APT) install --no-install-recommends $(1) >/dev/null; }

$(CHROMIUM):
	$(call APT_INSTALL,chromium)

$(POSTGRES):
	$(call APT_INSTALL,postgresql)

$(PROMETHEUS):
	$(call APT_INSTALL,prometheus)

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_datasets.py
	$(BIN)/python benchmarks/bench_tracking.py
	$(BIN)/python benchmarks/bench_serve.py
	$(BIN)/python benchmarks/bench_drift.py
	$(BIN)/python benchmarks/bench_labels.py
	$(BIN)/python benchmarks/bench_estimation.py
	$(BIN)/python benchmarks/bench_cluster.py
	$(BIN)/python benchmarks/bench_rowdiff.py
	$(BIN)/python benchmarks/bench_sidebar.py
	$(BIN)/python benchmarks/bench_imports.py

clean:
	rm -rf $(VENV) build labextension/node_modules labextension/lib mlops_jupyter/labextension
