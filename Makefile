# The two commands of the README: `make run` and `make test`. Both build .venv from the locked
# requirements first, so they work on a bare machine with python3 (3.11+).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PG_TEST_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/slds_test

.PHONY: install run test test-sqlite test-postgres fuzz bench bench-quick audit lock clean

$(BIN)/slds: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	@touch $@

install: $(BIN)/slds

# The suite also runs the benches' quick modes, which compare against Splink (bench extra).
$(VENV)/.bench-installed: $(BIN)/slds requirements-bench.lock
	$(BIN)/pip install --quiet --require-hashes -r requirements-bench.lock
	@touch $@

# Migrate the embedded SQLite database, load the demo state, serve all four services on :8000.
run: install
	$(BIN)/slds demo
	$(BIN)/slds serve

# The suite on SQLite, then on PostgreSQL (set PG_TEST_URL, or SKIP_POSTGRES=1 to skip locally).
test: $(VENV)/.bench-installed test-sqlite test-postgres

# The long fuzzing run (the suite runs 5 examples per operation; this runs 100).
fuzz: $(VENV)/.bench-installed
	SLDS_FUZZ_EXAMPLES=100 $(BIN)/pytest -q tests/services/test_api_fuzz.py

# The benchmark harness on PostgreSQL: one table of every figure (JSON and logs in bench/results/),
# the latest table into docs/benchmarks.md. STUDENTS=1000000 for the full state; REUSE=1 keeps a
# state loaded by an earlier run of the same size.
STUDENTS ?= 100000
BENCH_DATABASE_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/slds_bench_harness
bench: $(VENV)/.bench-installed
	$(BIN)/python -m bench.harness --students $(STUDENTS) --database-url $(BENCH_DATABASE_URL) \
		$(if $(REUSE),--reuse) --markdown docs/benchmarks.md

# Every bench's quick mode on SQLite (a couple of minutes, no timings asserted); the suite runs it too.
bench-quick: $(VENV)/.bench-installed
	$(BIN)/python -m bench.harness --quick

test-sqlite: $(VENV)/.bench-installed
	$(BIN)/pytest -q

test-postgres: $(VENV)/.bench-installed
ifeq ($(SKIP_POSTGRES),1)
	@echo "SKIP_POSTGRES=1: PostgreSQL run skipped"
else
	SLDS_TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest -q
endif

# Known vulnerabilities in every locked dependency (pip-audit asks the PyPI JSON API; --strict fails
# when a package could not be checked, so an unreachable service is never a silent pass).
audit: install
	$(BIN)/pip install --quiet pip-audit==2.10.1
	$(BIN)/pip-audit --strict --disable-pip --no-deps -r requirements.lock -r requirements-bench.lock

# Re-resolve the pinned, hashed requirements after editing pyproject.toml.
lock: install
	$(BIN)/pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra test --generate-hashes --python-version 3.11 -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --extra test --extra bench --generate-hashes --python-version 3.11 -o requirements-bench.lock

clean:
	rm -rf $(VENV) var .pytest_cache
