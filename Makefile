# hotline: one command to run it all, one to test it all.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-fast lint typecheck bench clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

## Run the whole system on embedded defaults: stand-in Asterisk, embedded Redis, SQLite, server.
demo: $(STAMP)
	mkdir -p var
	$(BIN)/hotline demo

## Run the whole test suite.
test: $(STAMP)
	$(BIN)/ruff check hotline tests bench
	$(BIN)/mypy
	$(BIN)/pytest -q -p no:cacheprovider

test-fast: $(STAMP)
	$(BIN)/pytest -q -x -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check hotline tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

## Every benchmark; each writes bench/results/<name>.json.
bench: $(STAMP)
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
