# Operations reporting center — the two commands: `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

AS_OF ?= 2026-11-20
SEED ?= 42
CLIENTS ?= 800
# pytest workers for `make test` (pytest-xdist; modules stay whole on one worker, see tests/conftest.py).
# 2 on the 2-core machine: 3 workers measured the same wall time (pytest 13:48 vs 13:53) for 10 % more CPU
TEST_WORKERS ?= 2
export PATH := $(HOME)/.local/bin:$(PATH)
export DAGSTER_HOME ?= $(CURDIR)/dagster_home
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
ECHARTS_DIR := orchestration/render/vendor

.PHONY: help setup uv deps js browsers dbt-parse demo demo-broken nightly test lint sql-lint dev benchmark clean

help:
	@echo "make demo         install everything, generate a demo firm, run one night, publish"
	@echo "make demo-broken  run a night with a deliberately bad export: publication held back, ops alerted"
	@echo "make test         full test suite (installs Chromium for the page tests if missing)"
	@echo "make dev          Dagster UI on http://127.0.0.1:3000"
	@echo "make nightly AS_OF=YYYY-MM-DD   run the nightly job for one date on data/raw"
	@echo "                  (MAKE_CURRENT=1: make it current even if older than the current publication)"
	@echo "make benchmark [BENCH_CLIENTS=\"800 10000 100000\"]   whole-night benchmark -> docs/benchmarks.md"

uv:
	@command -v uv >/dev/null 2>&1 || test -x $(HOME)/.local/bin/uv || python3 -m pip install --quiet --user uv \
		|| python3 -m pip install --quiet --break-system-packages --user uv

# --compile-bytecode: every night and test starts dbt/Dagster processes; with PYTHONDONTWRITEBYTECODE set
# (as here) they would compile their imports from source each time (measured: 7 % of a 300-client dbt build)
deps: uv
	$(UV) sync --frozen --compile-bytecode

js:
	@if [ -f $(ECHARTS_DIR)/package-lock.json ]; then \
		[ -f $(ECHARTS_DIR)/node_modules/echarts/dist/echarts.min.js ] && [ -f $(ECHARTS_DIR)/node_modules/ssf/ssf.js ] \
			|| npm ci --prefix $(ECHARTS_DIR) --no-audit --no-fund; \
	fi

dbt-parse: deps
	cd dbt_project && OPSCENTER_WAREHOUSE=$${OPSCENTER_WAREHOUSE:-$(CURDIR)/data/warehouse/opscenter.duckdb} \
		$(UV) run dbt parse --profiles-dir . --quiet

setup: deps js dbt-parse
	@mkdir -p $(DAGSTER_HOME) && touch $(DAGSTER_HOME)/dagster.yaml

# Chinese page text needs a CJK font: without it the pages render as boxes (checked apart from Chromium,
# which may have been installed without it)
browsers:
	@{ command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi "cjk"; } || { \
		(apt-get update -qq || sudo apt-get update -qq) && \
		(DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null \
		 || sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null); }
	@# status colours on the pages (🔴 🟠 ⚪) need a colour emoji font in headless Chromium
	@fc-list 2>/dev/null | grep -qi "color emoji" || (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		fonts-noto-color-emoji >/dev/null || sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		fonts-noto-color-emoji >/dev/null || true)

demo: setup
	$(UV) run python -m orchestration.demo --out data/raw --as-of $(AS_OF) --seed $(SEED) --clients $(CLIENTS)
	@# the generator has finished writing: no settle window for the files it just wrote
	OPSCENTER_SETTLE_SECONDS=0 $(UV) run python -m orchestration.cli nightly --as-of $(AS_OF)

demo-broken: setup
	$(UV) run python -m orchestration.demo --out data/raw --as-of $(AS_OF) --seed $(SEED) --clients $(CLIENTS) --fault missing_column
	-OPSCENTER_SETTLE_SECONDS=0 $(UV) run python -m orchestration.cli nightly --as-of $(AS_OF)
	$(UV) run python -m orchestration.cli status

nightly: setup
	$(UV) run python -m orchestration.cli nightly --as-of $(AS_OF) $(if $(MAKE_CURRENT),--make-current) $(if $(FULL_REFRESH),--full-refresh)

test: setup browsers sql-lint
	$(UV) run ruff check .
	$(UV) run pytest -n $(TEST_WORKERS) --dist loadgroup

lint: deps sql-lint
	$(UV) run ruff check . && $(UV) run ruff format --check .

# sqlfluff with the dbt templater (.sqlfluff): compiles the models, reads no data (a scratch DuckDB file);
# --processes 0: one process per core (2 cores: 81 s -> 43 s wall, 75 -> 65 CPU s)
sql-lint: deps
	OPSCENTER_WAREHOUSE=$(CURDIR)/dbt_project/target/sqlfluff/scratch.duckdb DBT_TARGET_PATH=target/sqlfluff \
		$(UV) run sqlfluff lint dbt_project/models --processes 0

dev: setup
	$(UV) run dagster dev -m orchestration.definitions -h 127.0.0.1 -p 3000

# Whole nights at each size (generate, load, dbt, bare-SQL floor, ML, quality, full and one-day incremental
# Dagster nights); results in docs/benchmarks.md. The 100,000-client run takes long: run it alone, e.g.
#   make benchmark BENCH_CLIENTS=100000
# BENCH_ARGS: further options, e.g. the nights of a kept firm:
#   BENCH_ARGS="--reuse <folder> --steps night_full night_yesterday night_incremental compare --stop-at HH:MM"
BENCH_CLIENTS ?= 800 10000
BENCH_ARGS ?=
benchmark: setup
	$(UV) run python -m orchestration.benchmark --clients $(BENCH_CLIENTS) $(BENCH_ARGS)

clean:
	rm -rf data/warehouse dagster_home reports/published test-artifacts dbt_project/target

# Evidence itself (issue 14): reports/ built with the pinned Evidence, offline, build:strict, against
# the current publication (make demo first). Slow (minutes); not part of `make test`.
.PHONY: evidence
evidence: deps
	$(UV) run python -m orchestration.render.evidence_build
