# radio — every target installs what it needs into .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat setup.cfg pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install test lint format demo docs bench bench-deps soak adversity clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,dev,bench]'
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP) ## Create .venv and install radio with its test and dev tools.

LIBFAKETIME := $(wildcard /usr/lib/*-linux-gnu/faketime/libfaketime.so.1)

test: $(STAMP) ## Run the test suite (real sockets, real subprocesses; as root also the fault harness).
ifeq ($(LIBFAKETIME),)
	-@test "$$(id -u)" != 0 || $(MAKE) --no-print-directory faults-deps
endif
	$(BIN)/python -m pytest

demo: $(STAMP) ## Play the stale-message story live: naive ZeroMQ beside radio.
	$(BIN)/radio-demo

bench-deps: ## Install the peer brokers the benchmark compares with (needs root, apt-get).
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server nats-server mosquitto

bench: $(STAMP) ## Measure radio beside raw pyzmq, Redis, NATS, MQTT; writes docs/benchmarks.md.
	$(BIN)/radio-bench --out docs

soak: $(STAMP) ## Fault-injection run (about 2 minutes); writes docs/reliability.md.
	$(BIN)/radio-soak --out docs

adversity: $(STAMP) ## Floods of strangers' keys, desk joins, forged presence; writes docs/security.md.
	$(BIN)/radio-adversity --out docs

docs: $(STAMP) ## Build the documentation into site/ (mkdocs, strict).
	$(BIN)/python -m pip install -q -e '.[docs]'
	$(BIN)/mkdocs build --strict

lint: $(STAMP) ## ruff and mypy --strict on radio/ and cli/.
	$(BIN)/ruff check radio cli tests
	$(BIN)/ruff format --check radio cli tests
	$(BIN)/mypy --strict radio cli

format: $(STAMP) ## Reformat the code with ruff.
	$(BIN)/ruff format radio cli tests
	$(BIN)/ruff check --fix radio cli tests

.PHONY: faults faults-deps

faults-deps: ## Install libfaketime, which the clock-skew scenarios preload (needs root, apt-get).
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime

faults: $(STAMP) ## Multi-host fault harness as root (about 2 minutes); writes docs/faults.md.
	$(BIN)/radio-faults --out docs

clean: ## Remove the virtual environment and caches.
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis site
