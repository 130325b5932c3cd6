# The two commands: `make demo` and `make test`. Both set up everything they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test lint system-deps venv clean

demo: system-deps venv
	$(BIN)/ledctl preview --out out/preview

test: system-deps venv lint
	$(BIN)/python -m pytest

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
