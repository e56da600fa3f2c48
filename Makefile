# The two commands a newcomer needs: `make run` and `make test`. Everything else is installed by them.
PYTHON ?= python3
VENV := .venv
UV := $(VENV)/bin/uv
UV_VERSION := 0.13.9
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)
SYNC := $(UV) sync --frozen --all-packages --inexact --python $(VENV)/bin/python

.PHONY: run test install install-test lint format lock bench clean

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

install: $(UV)
	$(SYNC) --no-default-groups

install-test: $(UV)
	$(SYNC) --group test

## Start the whole System on embedded servers with demo data (Ctrl-C stops it).
run: install
	$(VENV)/bin/egsu up --demo

## Run the whole test suite.
test: install-test
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

lint: $(UV)
	$(SYNC) --group dev
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy libs/core/src libs/db/src libs/bus/src libs/storage/src libs/auth/src libs/contracts/src client/src

format: $(UV)
	$(SYNC) --group dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

lock: $(UV)
	$(UV) lock

clean:
	rm -rf $(VENV) var .pytest_cache
