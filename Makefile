# Two commands: `make run` and `make test`. Each creates .venv if missing and installs into it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8501

.PHONY: run test install install-dev clean lesson-cards

# requirements*.txt give the ranges the code supports; constraints.txt pins the versions the tests ran on.
$(VENV)/.installed: requirements.txt constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt -c constraints.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt constraints.txt
	$(PY) -m pip install -q -r requirements-dev.txt -c constraints.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: $(VENV)/.installed
	$(PY) -m streamlit run app.py --server.address $(HOST) --server.port $(PORT)

test: $(VENV)/.installed-dev
	$(PY) -m pytest -n 2 --timeout 600 tests $(PYTEST_ARGS)

# Each lesson's Home card: its outcome, drawn from a real headless run (assets/lessons/<name>.png; minutes).
lesson-cards: $(VENV)/.installed
	$(PY) -m core.lessons.cards

clean:
	rm -rf $(VENV) .pytest_cache
