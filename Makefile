# One-command set-up: `make app` and `make test` both build everything they need.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
SYSSTAMP:= $(VENV)/.system
SYSTEM_PACKAGES := espeak-ng flite sox ffmpeg libsndfile1 chromium

export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1

.PHONY: setup system app test test-fast bench notebooks clean

setup: $(STAMP) $(SYSSTAMP)

# System packages (Debian). Skipped when every tool is already on PATH.
$(SYSSTAMP):
	@mkdir -p $(VENV)
	@if command -v espeak-ng >/dev/null && command -v sox >/dev/null && command -v flite >/dev/null \
	    && command -v ffmpeg >/dev/null && command -v chromium >/dev/null; then \
	  echo "system packages present"; \
	else \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(SYSTEM_PACKAGES); \
	fi
	@touch $@

# Python environment. torch is pinned first so nothing pulls a CUDA build.
$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev]"
	@touch $@

app: setup
	$(BIN)/audiolab app

test: setup
	$(BIN)/python -m pytest -q tests

test-fast: setup
	$(BIN)/python -m pytest -q tests -m "not real and not app"

bench: setup
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV)
