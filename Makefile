# `make test` and `make train` bootstrap their own virtual environment in .venv.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH ?= torch==2.13.0
SHARED_DATA := $(abspath ../shared/data)
export AUTOGRAD_DATA ?= $(if $(wildcard $(SHARED_DATA)),$(SHARED_DATA),)

.PHONY: test train lint format bench venv clean

venv: $(VENV)/.installed

# PyTorch (TORCH) is the oracle of ~200 tests; it is not in pyproject, where a plain `torch`
# would mean a multi-GB CUDA build on Linux.
$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e ".[all,test]"
	$(PY) -m pip install $(TORCH)
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
