# Fresh-machine entry points (see README): `make tokyo` builds the Tokyo dataset,
# `make test` runs the whole test suite. Each creates .venv and installs what it needs.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip install --quiet --disable-pip-version-check
# the [train] extra is gigabytes (torch and its CUDA wheels): show pip's progress bars
PIP_LOUD := $(PY) -m pip install --disable-pip-version-check --progress-bar on

.PHONY: tokyo test setup-data setup-full clean

# The data half needs no torch: `make tokyo` installs the core package only.
$(VENV)/.data-installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) -e .
	touch $@

# Tests cover the trainer too, so they need the [train] and [dev] extras.
$(VENV)/.full-installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing mapkit[train,dev]: torch and its CUDA libraries are several GB to download"
	$(PIP_LOUD) -e '.[train,dev]'
	touch $@ $(VENV)/.data-installed

setup-data: $(VENV)/.data-installed
setup-full: $(VENV)/.full-installed

tokyo: setup-data
	$(VENV)/bin/mapkit build --city tokyo

# Lint first (pyproject.toml's [tool.ruff] rule set): a style slip fails fast, before the suite.
test: setup-full
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis
