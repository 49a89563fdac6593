# Two entry points (see README):  make report   |   make test
# Both create .venv when missing. torch==2.13.0 (the CPU build) is installed FIRST so that
# nothing pulls a multi-GB CUDA build; then the package with its [dev] and [scale] (Ray Data) extras.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.rec-suite-installed
CONFIG ?= configs/default.yaml
PROFILE ?=
OUT ?=

.PHONY: report test test-fast setup fetch sync-notebooks clean-venv help

help:
	@echo "make report   set up, fetch ML-1M, run the whole suite (default config), print the report path"
	@echo "make test     set up, then unit tests + every notebook under nbval (smoke profile)"
	@echo "make test-fast  the unit tests only (no notebooks, no slow tests), about a minute"

setup: $(STAMP)

# The stamp is written last, so an interrupted install is redone on the next call.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "torch==2.13.0"
	$(BIN)/python -m pip install -q -e ".[dev,scale]"
	$(BIN)/python -c "import torch, transformers, rec_helpers; print('installed: torch', torch.__version__)"
	@touch $@

fetch: setup
	$(BIN)/rec-suite fetch --dataset ml-1m ml-100k

report: fetch
	$(BIN)/rec-suite run --config $(CONFIG) $(if $(PROFILE),--profile $(PROFILE)) $(if $(OUT),--out $(OUT))

test: setup
	$(BIN)/rec-suite fetch --dataset ml-100k
	REC_SUITE_PROFILE=smoke REC_SUITE_HEADLESS=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(BIN)/python -m pytest -q \
		tests notebooks --nbval-lax --nbval-current-env --ignore=notebooks/exercises -p no:cacheprovider --durations=12

# The unit tests only, in about a minute: no notebooks, kernels or browsers (marker `notebook`), no real
# MovieLens data, BERT fine-tuning or long training (marker `slow`); `make test` runs everything.
test-fast: setup
	REC_SUITE_HEADLESS=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(BIN)/python -m pytest -q tests \
		-m "not slow and not notebook" -p no:cacheprovider

# After editing a notebook or its paired py:percent script (jupytext.toml): bring each pair in line (the newer
# file wins), then strip outputs and execution counts from the .ipynb before committing.
NOTEBOOKS := $(wildcard notebooks/*.ipynb notebooks/exercises/*.ipynb)
sync-notebooks: setup
	$(BIN)/jupytext --sync $(NOTEBOOKS)
	$(BIN)/python tools/strip_outputs.py $(NOTEBOOKS)

clean-venv:
	rm -rf $(VENV)
