# radio — every target installs what it needs into .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat setup.cfg setup.py pyproject.toml tools/requirements.txt | cksum | cut -d' ' -f1)
# The pure cores, compiled by setup.py with mypyc, or Cython when RADIO_CORES_COMPILER=cython
# (in place: the .so files sit beside them): every module of radio/core/ and its packages.
CORES  := $(filter-out %/__init__.py,$(wildcard radio/core/*.py radio/core/*/*.py))
# Run again on the pure-Python twin (RADIO_PURE=1: the cores from source, and the drivers on
# pyzmq's paths instead of the C hot loops) by `make test`: the cores' own tests, the
# drivers' send, read and receive paths, which the C loops replace in the first pass, and
# the core findings of the simulator (its fixed seeds run on the compiled cores in the first
# pass; its mutations always run on the pure cores, in a child process).
PURE_TESTS := tests/core tests/test_fast_path.py tests/sim/test_core_findings.py tests/sim/test_shrink.py \
	tests/test_pubsub.py tests/test_receive.py tests/test_batch.py tests/test_parts.py tests/test_hostile.py \
	tests/test_stale.py tests/test_losses.py tests/test_outbox.py

.PHONY: install test test-wallclock lint format demo docs docs-shots dist bench bench-compilers bench-deps soak adversity sim asan top-shot clean

$(STAMP): setup.cfg setup.py pyproject.toml tools/requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# The distribution was called radio before radio-zmq: drop that install from an old .venv.
	$(BIN)/python -m pip uninstall -q -y radio 2>/dev/null || true
	$(BIN)/python -m pip install -q -e '.[test,dev]' -r tools/requirements.txt
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP) ## Create .venv: radio (cores compiled when gcc is there; RADIO_PURE=1: none), test, lint and tools requirements.

# An editable install compiles the cores and the hot loops in place; rebuild them when one
# changes, so that a stale build never runs (radio.compiled would fall back to the sources,
# or to pyzmq's paths, and say so).
radio/_build.txt: $(CORES) radio/_hot.pyx | $(STAMP)
	$(BIN)/python setup.py -q build_ext --inplace

LIBFAKETIME := $(wildcard /usr/lib/*-linux-gnu/faketime/libfaketime.so.1)

TMUX := $(shell command -v tmux 2>/dev/null)

test: $(STAMP) radio/_build.txt ## Run the test suite on the compiled cores, then the pure-core tests on pure Python.
ifeq ($(TMUX),)
	-@test "$$(id -u)" != 0 || { echo "make test: installing tmux with apt-get: radio-top's tests drive it in a real terminal (without it they skip)"; $(MAKE) --no-print-directory test-deps; }
endif
	$(BIN)/python -m pytest -m "not wallclock"
	RADIO_PURE=1 $(BIN)/python -m pytest -q $(PURE_TESTS)

# The C hot loops (radio/_hot.pyx) built with AddressSanitizer in a copy of the tree, under
# the tests that feed them junk, truncated frames and lying lengths (the fuzz passes of
# tests/test_hot.py among them): any read or write out of bounds aborts the run. A test that
# bounds resident memory is left out: AddressSanitizer's shadow memory and quarantine grow it.
ASAN_TESTS := tests/test_hot.py tests/test_hostile.py tests/test_parts.py tests/test_batch.py \
	tests/test_receive.py tests/test_adversity_delivery.py tests/test_vectors.py tests/test_pubsub.py \
	--deselect tests/test_adversity_delivery.py::test_batching_counts_hwm_in_messages_and_a_stopped_listener_costs_little
ASAN_DIR   := build/asan

asan: $(STAMP) ## The C hot loops under AddressSanitizer, fed junk by the hostile-input tests.
	rm -rf $(ASAN_DIR) && mkdir -p $(ASAN_DIR)
	cp -r radio tests docs setup.cfg setup.py pyproject.toml README.md $(ASAN_DIR)/
	rm -f $(ASAN_DIR)/radio/*.so $(ASAN_DIR)/radio/core/*.so $(ASAN_DIR)/radio/core/*/*.so $(ASAN_DIR)/radio/_hot.c
	cd $(ASAN_DIR) && CFLAGS="-fsanitize=address -fno-omit-frame-pointer -O1 -g" \
		LDFLAGS="-fsanitize=address" $(CURDIR)/$(BIN)/cythonize -q -i -3 radio/_hot.pyx
	printf 'pure: the AddressSanitizer build of the hot loops alone\n_hot.pyx %s\n' \
		"$$(sha256sum $(ASAN_DIR)/radio/_hot.pyx | cut -d' ' -f1)" > $(ASAN_DIR)/radio/_build.txt
	cd $(ASAN_DIR) && LD_PRELOAD="$$(gcc -print-file-name=libasan.so)" ASAN_OPTIONS=detect_leaks=0 \
		PYTHONPATH=. $(CURDIR)/$(BIN)/python -c \
		"import radio.compiled as c; assert c.HOT, c.HOT_REASON; print('asan:', c.describe())"
	cd $(ASAN_DIR) && LD_PRELOAD="$$(gcc -print-file-name=libasan.so)" ASAN_OPTIONS=detect_leaks=0 \
		PYTHONPATH=. $(CURDIR)/$(BIN)/python -m pytest -q -p no:cacheprovider $(ASAN_TESTS)

# Checks bound by wall-clock time (the trimmed multi-host harness, the short soak): a busy
# machine can break their bounds with nothing wrong, so they are not in `make test`; CI
# runs them as a step of their own.
test-wallclock: $(STAMP) radio/_build.txt ## The trimmed fault harness (as root) and the short soak.
ifeq ($(LIBFAKETIME),)
	-@test "$$(id -u)" != 0 || $(MAKE) --no-print-directory faults-deps
endif
	$(BIN)/python -m pytest -m wallclock

# `make demo` has a venv of its own with radio and its runtime dependencies only (no test,
# lint or tools requirements, no mypy): pure Python, built without build isolation, so a
# fresh clone's first `make demo` downloads only pyzmq, click and structlog (plus the build
# tools setuptools and wheel). Reinstalled whenever the package's sources change.
DEMO_VENV  := .venv-demo
DEMO_STAMP := $(DEMO_VENV)/.installed
DEMO_SRC   := setup.cfg setup.py pyproject.toml $(wildcard radio/*.py radio/core/*.py radio/core/*/*.py cli/*.py)

$(DEMO_STAMP): $(DEMO_SRC)
	test -x $(DEMO_VENV)/bin/python || $(PYTHON) -m venv $(DEMO_VENV)
	$(DEMO_VENV)/bin/python -m pip install -q 'setuptools>=64' wheel
	rm -rf build  # pip builds in the tree: no compiled module of an earlier build may ride along
	RADIO_PURE=1 $(DEMO_VENV)/bin/python -m pip install -q --no-build-isolation .
	touch $@

demo: $(DEMO_STAMP) ## Play the stale-message story live: naive ZeroMQ beside radio (runtime install only).
	$(DEMO_VENV)/bin/radio-demo

bench-deps: ## Install the peer brokers the benchmark compares with (needs root, apt-get).
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server nats-server mosquitto

bench: $(STAMP) ## Measure radio beside raw pyzmq, Redis, NATS, MQTT; writes docs/benchmarks.md.
	$(BIN)/python -m tools.bench.main --out docs

bench-compilers: $(STAMP) ## The cores compiled by mypyc beside Cython: per-message CPU and the simulator, alternating.
	$(BIN)/python -m tools.bench.compilers

soak: $(STAMP) ## Fault-injection run (about 2 minutes); writes docs/reliability.md.
	$(BIN)/python -m tools.soak.main --out docs

adversity: $(STAMP) ## Floods of strangers' keys, desk joins, forged presence, and issue 18's attacks, each held to a bound; writes docs/security.md.
	$(BIN)/python -m tools.soak.adversity --out docs

top-shot: $(STAMP) ## radio-top's screenshot: a real channel, radio-top in tmux, the pane into docs/top/ and docs/operations.md.
	$(BIN)/python -m tools.top_shot

SEEDS ?= 1000
START ?= 0

sim: $(STAMP) ## The deterministic simulator: SEEDS seeds from START (make sim SEEDS=20000); docs/simulation.md.
	$(BIN)/python -m tools.sim --seeds $(SEEDS) --start $(START)

docs: $(STAMP) ## Build the documentation into site/ (mkdocs, strict).
	$(BIN)/python -m pip install -q -e '.[docs]'
	$(BIN)/mkdocs build --strict

docs-shots: $(STAMP) ## Build the docs and screenshot every page at 1280 and 390 px into build/docs-shots (Chromium).
	$(BIN)/python -m pip install -q -e '.[docs]' playwright
	$(BIN)/python -m tools.docshots --out build/docs-shots

dist: $(STAMP) ## Build the wheel and the sdist into dist/ and check them (twine check --strict).
	$(BIN)/python -m pip install -q build twine
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/twine check --strict dist/*

lint: $(STAMP) ## ruff and mypy --strict on radio/, cli/ and tools/.
	$(BIN)/ruff check radio cli tools tests
	$(BIN)/ruff format --check radio cli tools tests
	$(BIN)/mypy --strict radio cli tools

format: $(STAMP) ## Reformat the code with ruff.
	$(BIN)/ruff format radio cli tools tests
	$(BIN)/ruff check --fix radio cli tools tests

.PHONY: faults faults-deps test-deps

test-deps: ## Install tmux, in which radio-top's tests drive a real terminal (needs root, apt-get).
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux

faults-deps: ## Install libfaketime, which the clock-skew scenarios preload (needs root, apt-get).
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime

faults: $(STAMP) ## Multi-host fault harness as root (about 4 minutes); writes docs/faults.md.
	$(BIN)/python -m tools.faults.main --out docs

clean: ## Remove the virtual environment and caches.
	rm -rf $(VENV) $(DEMO_VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis site
	rm -f radio/*.so radio/core/*.so radio/core/*/*.so radio/_build.txt radio/_hot.c
	rm -f radio/core/*.c radio/core/*/*.c
