# The two commands: `make demo` and `make test`. Both set up everything they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test lint bench screenshots system-deps venv clean

# The demo runs the whole chain on this machine: the simulated monitoring centre, boards and
# MQTT broker; today's data over HTTP, every board rendered and delivered, each confirmation
# kept as proof of display.
demo: system-deps venv
	$(BIN)/ledctl --state var demo --out out/preview  # runs until Ctrl-C

# Four workers, each test module on one of them (a module's simulated world is made once): most tests
# wait on paced wires, brokers and browsers, not on the CPU (the whole suite uses about 3 CPU minutes),
# so on two cores four workers take 4.5 minutes where one takes 15.
test: system-deps venv lint
	$(BIN)/python -m pytest -n 4 --dist loadfile

# Each benchmark prints its figures as it finishes; all of them land in bench/results.md. Every one
# runs; those that missed a goal (or failed) are named at the end, and the run's status says so.
bench: system-deps venv
	@out=bench/results.md.part; missed=""; \
	{ echo "# ledctl benchmarks"; echo; echo "Measured $$(date -u +%Y-%m-%dT%H:%MZ) on $$(nproc) cores (load before: $$(cut -d' ' -f1 /proc/loadavg))."; echo; } > $$out; \
	for b in bench/*.py; do \
	  echo "==> $$b" >&2; \
	  if ! $(BIN)/python $$b > $$out.one; then missed="$$missed $$b"; echo "- MISSED ITS GOAL (or failed): $$b" >> $$out.one; fi; \
	  cat $$out.one; cat $$out.one >> $$out; echo >> $$out; rm -f $$out.one; \
	done; mv $$out bench/results.md; echo "(written to bench/results.md)"; \
	if [ -n "$$missed" ]; then echo "missed a goal:$$missed" >&2; exit 1; fi

# The README's pictures of the console (docs/img/console-*.png), from the real service in Chromium.
screenshots: system-deps venv
	LEDCTL_SCREENSHOTS=docs/img $(BIN)/python -m pytest -q tests/browser/test_screenshots.py

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
