# Two commands for a newcomer: `make demo` (the whole product on a simulated market) and `make test`.
# Each creates its own virtualenv in .venv on first use.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-quick typecheck lint bench venv clean broker-up broker-down stack-up stack-ps stack-down

$(STAMP): requirements.txt requirements-sdk.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found. Install Python 3.11+ or run 'make PYTHON=python3.12 ...'"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip install -q --no-deps -r requirements-sdk.txt
	$(BIN)/pip install -q --no-deps -e .
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/glue demo $(DEMO_ARGS)

test: $(STAMP)
	$(BIN)/ruff check glue models tests bench
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The quick tier: unit and SQL tests (no broker, no sockets, no ../shared needed).
test-quick: $(STAMP)
	$(BIN)/ruff check glue models tests bench
	$(BIN)/python -m pytest tests/unit tests/sql $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check glue models tests bench

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

broker-up: $(STAMP)
	docker/local-kafka up

broker-down:
	docker/local-kafka down

stack-up stack-ps stack-down: $(STAMP)
	docker/stack $(subst stack-,,$@)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
