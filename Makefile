# The two commands: `make demo` and `make test`. Both set up everything they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test lint bench system-deps venv clean

# The demo reads the day's data over HTTP from the simulated monitoring centre, then renders
# every board. (If the centre cannot start, the config falls back to the sample files.)
demo: system-deps venv
	@$(BIN)/ledctl sim data-server --port 17200 & server=$$!; \
	  trap 'kill $$server 2>/dev/null; wait $$server 2>/dev/null' EXIT; sleep 1; \
	  $(BIN)/ledctl --state var data fetch && \
	  $(BIN)/ledctl --state var preview --out out/preview

test: system-deps venv lint
	$(BIN)/python -m pytest

bench: system-deps venv
	@{ echo "# ledctl benchmarks"; echo; echo "Measured $$(date -u +%Y-%m-%dT%H:%MZ) on $$(nproc) cores."; echo; \
	  for b in bench/*.py; do $(BIN)/python $$b || exit 1; echo; done; } | tee bench/results.md

lint: venv
	$(BIN)/ruff check .

system-deps:
	@PYTHON=$(PYTHON) tools/system-deps.sh

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

clean:
	rm -rf $(VENV) out var .pytest_cache .ruff_cache *.egg-info
