# Two entry points: `make demo` (the product's main job on the sandbox) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup demo sandbox test bench-first-login bench-first-login-storm bench-lifecycle bench-reconcile bench-faults \
        bench-rule-import

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(PY) -m service demo

sandbox: setup
	$(PY) -m service sandbox

test: setup
	$(PY) -m pytest -q -n 3 --dist loadfile
	cd auth0_actions && node --test

bench-first-login: setup
	$(PY) bench/first_login.py

bench-first-login-storm: setup
	$(PY) bench/first_login.py --storm --instances 1
	$(PY) bench/first_login.py --storm --instances 2 --workers 1 --no-rule

bench-lifecycle: setup
	$(PY) bench/lifecycle.py

bench-reconcile: setup
	$(PY) bench/reconcile.py

bench-faults: setup
	$(PY) bench/faults.py

bench-rule-import: setup
	$(PY) bench/rule_import.py
