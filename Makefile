# Each public target does its own set-up: a fresh clone needs nothing but python3 (>= 3.10).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# A second environment with ipykernel 6: the kernel tests run the widget under both 6 and 7.
KERNEL6 ?= .venv-ipykernel6

.PHONY: demo test lint bench clean

# The stamp is newer than pyproject.toml once the venv holds what it asks for.
$(VENV)/.installed-local: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[local]'
	touch $@

$(VENV)/.installed-test: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[local,test]'
	touch $@ $(VENV)/.installed-local

$(KERNEL6)/.installed: pyproject.toml
	test -x $(KERNEL6)/bin/python || $(PYTHON) -m venv $(KERNEL6)
	$(KERNEL6)/bin/python -m pip install --quiet --upgrade pip
	$(KERNEL6)/bin/python -m pip install --quiet -e '.[local]' 'ipykernel>=6.29,<7'
	touch $@

demo: $(VENV)/.installed-local
	$(BIN)/snowload demo

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: $(VENV)/.installed-test $(KERNEL6)/.installed lint
	$(BIN)/python -m pytest

bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/bench_load.py

clean:
	rm -rf $(VENV) $(KERNEL6) .pytest_cache .ruff_cache .hypothesis
