# The two commands a newcomer needs: `make run` and `make test`.
# Both create the virtual environment and install what they need themselves.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8000
SRC_DIRS := $(wildcard cryptoscore cryptoscore_server cryptoscore_cli benchmarks tests)

.PHONY: run test lint typecheck unit chromium bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/cryptoscore serve --print-admin-token --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check $(SRC_DIRS)
	$(BIN)/ruff format --check $(SRC_DIRS)

typecheck: $(STAMP)
	$(BIN)/mypy

# the browser the web page's tests drive (installed with apt-get as root when missing)
chromium:
	scripts/ensure-chromium

unit: $(STAMP) chromium
	$(BIN)/python -m pytest -q

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python -m pytest benchmarks --benchmark-enable -q

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
