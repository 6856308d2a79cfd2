# Each public target does its own set-up: a fresh clone needs nothing but python3 (>= 3.10).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# A second environment with ipykernel 6: the kernel tests run the widget under both 6 and 7.
KERNEL6 ?= .venv-ipykernel6

.PHONY: demo test lint bench e2e clean

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

# Without the caller's account settings: 04-real-snowflake.ipynb must skip, never touch an account.
test: $(VENV)/.installed-test $(KERNEL6)/.installed lint
	env -u SNOWLOAD_CONNECTION -u SNOWFLAKE_ACCOUNT $(BIN)/python -m pytest

# The browser check: JupyterLab in headless Debian Chromium runs notebooks/ and the widget is
# checked on the rendered page; tmux shows the terminal view. Regenerates docs/img/. Installs what
# it needs: JupyterLab and playwright into the venv, chromium and tmux with apt-get (as root).
$(VENV)/.installed-e2e: $(VENV)/.installed-test
	$(BIN)/python -m pip install --quiet 'jupyterlab>=4.2,<5' 'playwright>=1.49,<2'
	touch $@

e2e: $(VENV)/.installed-e2e
	@missing=""; test -x /usr/bin/chromium || missing="chromium"; \
	command -v tmux >/dev/null || missing="$$missing tmux"; \
	if [ -n "$$missing" ]; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
	fi
	timeout --kill-after=30 900 $(BIN)/python -m pytest e2e -q

# Both benchmarks write benchmarks/RESULTS.md (each its own section); about 12 minutes in all.
bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/bench_load.py
	$(BIN)/python benchmarks/bench_dataframe.py

clean:
	rm -rf $(VENV) $(KERNEL6) .pytest_cache .ruff_cache .hypothesis
