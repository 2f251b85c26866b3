# Two entry points, both from a fresh checkout:
#   make serve   set up .venv with the shipped models and run the calculator on http://127.0.0.1:8000
#   make test    set up .venv with the test tools (and Debian's chromium for the browser test) and run the tests
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: serve test lint setup setup-dev browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

setup: $(BIN)/python
	$(BIN)/pip install -q -c constraints.txt -e ".[web]"

setup-dev: $(BIN)/python
	$(BIN)/pip install -q -c constraints.txt -e ".[web,dev]"

browser:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

serve: setup
	$(BIN)/lawt serve

lint: setup-dev
	$(BIN)/ruff check src tests scripts

test: setup-dev browser lint
	$(BIN)/pytest
