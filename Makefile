# One-liners for s2s_users. `make demo` and `make test` are the two set-up commands of the README:
# each creates .venv (Python 3.11+) and installs what it needs first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# The demo: 2 users per model, one 60-turn session each, against the embedded mock, sped up 10x.
DEMO_ARGS ?= --headless -u 4 -r 4 --sessions-per-user 1 --turns 60 --s2s-pace 10 --mock-time-scale 10 \
	--think-time 0.1 --chunk-ms 100 --run-time 10m --only-summary --exit-code-on-error 0

.PHONY: demo test system lint types unit unit-compiled compiled pure bench bench-generator install clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "error: Python 3.11 or newer is needed (found $$($(PYTHON) --version)); set PYTHON=python3.11"; exit 2; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || \
		{ echo "error: cannot create a virtual environment: apt-get install python3-venv"; exit 2; }
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# The hot path compiled with mypyc, beside its sources (a fifth to a quarter less CPU per session: README), as a
# wheel (`pip install .`) has it; `make pure` goes back. An edited source stops every import until one of the two
# is run again. The clone's editable install stays pure.
compiled: $(STAMP)
	$(BIN)/python scripts/compile.py build

pure:
	$(PYTHON) scripts/compile.py remove

demo: $(STAMP)
	$(BIN)/locust -f locustfiles/endurance.py $(DEMO_ARGS) --report-dir runs/demo-$$(date -u +%Y%m%dT%H%M%SZ)

lint: $(STAMP)
	$(BIN)/ruff check s2s_users tests locustfiles audio_fixtures benchmarks grafana
	$(BIN)/ruff format --check s2s_users tests locustfiles audio_fixtures benchmarks grafana

types: $(STAMP)
	$(BIN)/mypy --strict s2s_users grafana benchmarks

unit: $(STAMP)
	$(BIN)/python -m pytest -q

# The compiled hot path's own tests and an end-to-end run, on a compiled copy of the tree (this one stays pure).
COMPILED_TREE := build/compiled-tree
COMPILED_TESTS ?= tests/core tests/io tests/integration/test_endurance_run.py
unit-compiled: $(STAMP)
	rm -rf $(COMPILED_TREE) && mkdir -p build
	$(BIN)/python scripts/compile.py build --copy $(COMPILED_TREE) > $(COMPILED_TREE).log || \
		{ tail -20 $(COMPILED_TREE).log; exit 1; }
	cd $(COMPILED_TREE) && PYTHONPATH=$$PWD $(abspath $(BIN))/python scripts/compile.py check
	cd $(COMPILED_TREE) && PYTHONPATH=$$PWD $(abspath $(BIN))/python -m pytest -q -p no:cacheprovider $(COMPILED_TESTS)

# Debian packages the tests need: installed when run as root, otherwise one line saying what to install.
system:
	@PYTHON=$(PYTHON) scripts/system-packages.sh

test: system lint types unit unit-compiled

# Benchmarks print a table and leave results in benchmarks/results/ (see benchmarks/README.md).
bench: $(STAMP)
	$(BIN)/python -m benchmarks.influx_sink
	$(BIN)/python -m benchmarks.mock_capacity
	$(BIN)/python -m benchmarks.stability

# The generator's sessions per core against a plain asyncio client (about 12 minutes; quiet machine, root for
# realtime priority): results/generator_capacity.{json,md}.
bench-generator: $(STAMP)
	$(BIN)/python -m benchmarks.generator_capacity --repeats 2 --configs 20:manual,100:manual --compiled

clean:
	$(PYTHON) scripts/compile.py remove
	rm -rf $(VENV) .venv-sdk .mypy_cache .ruff_cache .pytest_cache build
