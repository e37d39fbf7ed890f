# One-command set-up: `make app` and `make test` both build everything they need.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
SYSSTAMP:= $(VENV)/.system
SYSTEM_PACKAGES := espeak-ng flite sox ffmpeg libsndfile1 chromium wamerican
# KenLM's lmplz (n-gram LMs for the CTC lab) is built from source: compiler, CMake, Boost, zlib
SYSTEM_PACKAGES += cmake g++ make libboost-program-options-dev libboost-system-dev libboost-thread-dev libboost-test-dev zlib1g-dev
LMPLZ   := $(BIN)/lmplz

export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1

.PHONY: setup system app test test-fast bench notebooks clean

setup: $(STAMP) $(SYSSTAMP) $(LMPLZ)

# System packages (Debian): installs whichever of SYSTEM_PACKAGES are missing.
$(SYSSTAMP): Makefile
	@mkdir -p $(VENV)
	@missing=$$(for p in $(SYSTEM_PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages: $$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	else echo "system packages present"; fi
	@touch $@

# Python environment. torch is pinned first so nothing pulls a CUDA build.
$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev,train,scale]" --config-settings editable_mode=compat  # compat: the checkout on sys.path, so training/ imports
	@touch $@

# KenLM lmplz from the kenlm sdist on PyPI (about a minute; see lab/ctc/kenlm_build.py)
$(LMPLZ): | $(STAMP) $(SYSSTAMP)
	$(BIN)/python -m lab.ctc.kenlm_build $(LMPLZ)

app: setup
	$(BIN)/audiolab app

test: setup
	$(BIN)/python -m pytest -q tests

test-fast: setup
	$(BIN)/python -m pytest -q tests -m "not real and not app"

bench: setup
	$(BIN)/python benchmarks/run.py $(BENCH)

clean:
	rm -rf $(VENV)

# M-CTC-T parity with transformers 4.46 (not part of `make test`; see scripts/mctct_parity.py):
# a second venv beside the checkout, the 4.46 side saves models + outputs, the lab side compares.
MCTCT_VENV ?= $(abspath ..)/venv446
MCTCT_OUT  ?= build/mctct-parity
.PHONY: mctct-parity
mctct-parity: setup $(MCTCT_VENV)/.installed
	rm -rf $(MCTCT_OUT)
	$(MCTCT_VENV)/bin/python scripts/mctct_parity.py reference $(MCTCT_OUT)
	$(BIN)/python scripts/mctct_parity.py compare $(MCTCT_OUT)

$(MCTCT_VENV)/.installed:
	$(PY) -m venv $(MCTCT_VENV)
	$(MCTCT_VENV)/bin/pip install -q torch==2.13.0 'transformers==4.46.*' 'numpy<2'
	$(MCTCT_VENV)/bin/python -c "import torch, transformers; assert torch.__version__.startswith('2.13.0'), torch.__version__; print('4.46 venv: torch', torch.__version__, 'transformers', transformers.__version__)"
	@touch $@
