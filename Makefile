# The two commands: `make demo` and `make test`. Both set up everything they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test lint bench system-deps venv clean

# The demo runs the whole chain on this machine: the simulated monitoring centre, boards and
# MQTT broker; today's data over HTTP, every board rendered and delivered, each confirmation
# kept as proof of display.
demo: system-deps venv
	$(BIN)/ledctl --state var demo --out out/preview  # runs until Ctrl-C

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
