# Fresh-machine entry points (see README): `make tokyo` builds the Tokyo dataset,
# `make test` runs the whole test suite. Each creates .venv and installs what it needs.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip install --quiet --disable-pip-version-check

.PHONY: tokyo test setup-data setup-full clean

# The data half needs no torch: `make tokyo` installs the core package only.
$(VENV)/.data-installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) -e .
	touch $@

# Tests cover the trainer too, so they need the [train] and [dev] extras.
$(VENV)/.full-installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) -e '.[train,dev]'
	touch $@ $(VENV)/.data-installed

setup-data: $(VENV)/.data-installed
setup-full: $(VENV)/.full-installed

tokyo: setup-data
	$(VENV)/bin/mapkit build --city tokyo

test: setup-full
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis
