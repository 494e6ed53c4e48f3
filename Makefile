# `make test` and `make train` bootstrap their own virtual environment in .venv.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SHARED_DATA := $(abspath ../shared/data)
export AUTOGRAD_DATA ?= $(if $(wildcard $(SHARED_DATA)),$(SHARED_DATA),)

.PHONY: test train lint format bench venv clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e ".[all,test]"
	touch $@

lint: venv
	$(VENV)/bin/ruff check autograd nn tests benchmarks docs conftest.py
	$(VENV)/bin/ruff format --check autograd nn tests benchmarks docs conftest.py

format: venv
	$(VENV)/bin/ruff check --fix autograd nn tests benchmarks docs conftest.py
	$(VENV)/bin/ruff format autograd nn tests benchmarks docs conftest.py

test: venv lint
	$(PY) -m pytest -n 2 $(PYTEST_ARGS)

train: venv
	$(PY) -m nn.train $(ARGS)

bench: venv
	$(PY) -m benchmarks.run $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
