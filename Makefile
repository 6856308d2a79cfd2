# Each public target does its own set-up: a fresh clone needs nothing but python3 (>= 3.10).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# A second environment with ipykernel 6: the kernel tests run the widget under both 6 and 7.
KERNEL6 ?= .venv-ipykernel6
# The project with connector 5.x (what a plain `pip install snowload_nb` brings), and with the lowest
# versions pyproject.toml declares. Neither can hold fakesnow (it cannot import beside 5.x): their
# tests reach the embedded server through the main environment's `snowload serve`.
CONNECTOR5 ?= .venv-connector5
LOWEST ?= .venv-lowest
SERVE := $(abspath $(BIN))/snowload
# What runs on every driver: files with parts, the re-run, retries, atomic, interrupts, DataFrames,
# `snowload serve` and the server process, quiet output, the widget over the kernel protocol.
SUBSET := tests/test_local.py tests/test_rerun.py tests/test_atomic.py tests/test_faults.py tests/test_parts.py \
	tests/test_dataframes.py tests/test_serve.py tests/test_quiet.py tests/test_notebook_kernel.py tests/test_imports.py \
	tests/test_exactly_once.py
# Dask is the main environment's (the `dask` extra): its kernel test is not part of the subset.
SUBSET_ARGS := --deselect "tests/test_notebook_kernel.py::test_the_widget_shows_dask_partitions_advancing"
NO_ACCOUNT := env -u SNOWLOAD_CONNECTION -u SNOWFLAKE_ACCOUNT

.PHONY: demo test test-main test-connector5 test-lowest lint bench e2e soak clean

# The stamp is newer than pyproject.toml once the venv holds what it asks for.
$(VENV)/.installed-local: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[local]'
	touch $@

$(VENV)/.installed-test: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[local,test,dask]'
	touch $@ $(VENV)/.installed-local

$(KERNEL6)/.installed: pyproject.toml
	test -x $(KERNEL6)/bin/python || $(PYTHON) -m venv $(KERNEL6)
	$(KERNEL6)/bin/python -m pip install --quiet --upgrade pip
	$(KERNEL6)/bin/python -m pip install --quiet -e '.[local,dask]' 'ipykernel>=6.29,<7'
	touch $@

$(CONNECTOR5)/.installed: pyproject.toml
	test -x $(CONNECTOR5)/bin/python || $(PYTHON) -m venv $(CONNECTOR5)
	$(CONNECTOR5)/bin/python -m pip install --quiet --upgrade pip
	$(CONNECTOR5)/bin/python -m pip install --quiet -e '.[test]' 'snowflake-connector-python>=5,<6'
	touch $@

$(LOWEST)/.installed: pyproject.toml .ci/lowest.py
	test -x $(LOWEST)/bin/python || $(PYTHON) -m venv $(LOWEST)
	$(LOWEST)/bin/python -m pip install --quiet --upgrade pip
	$(LOWEST)/bin/python -m pip install --quiet -e '.[test]' $$($(LOWEST)/bin/python .ci/lowest.py)
	touch $@

demo: $(VENV)/.installed-local
	$(BIN)/snowload demo

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Without the caller's account settings: 04-real-snowflake.ipynb must skip, never touch an account.
# The whole suite on connector 4.x, then the subset on 5.x and on the lowest declared versions.
test: lint test-main test-connector5 test-lowest

test-main: $(VENV)/.installed-test $(KERNEL6)/.installed
	$(NO_ACCOUNT) $(BIN)/python -m pytest

test-connector5: $(VENV)/.installed-test $(CONNECTOR5)/.installed
	$(NO_ACCOUNT) SNOWLOAD_SERVE=$(SERVE) $(CONNECTOR5)/bin/python -m pytest -p no:cacheprovider $(SUBSET_ARGS) $(SUBSET)

test-lowest: $(VENV)/.installed-test $(LOWEST)/.installed
	$(NO_ACCOUNT) SNOWLOAD_SERVE=$(SERVE) $(LOWEST)/bin/python -m pytest -p no:cacheprovider $(SUBSET_ARGS) $(SUBSET)

# The fault soak at length, with a fresh seed each run (make test runs 50 rounds of a fixed one);
# a failure names its seed: SOAK_SEED=<seed> make soak repeats it.
SOAK_ROUNDS ?= 300
soak: $(VENV)/.installed-test
	SOAK_ROUNDS=$(SOAK_ROUNDS) SOAK_SEED=$${SOAK_SEED:-$$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')} \
		$(BIN)/python -m pytest tests/test_soak.py -q -s -p no:cacheprovider

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

# The benchmarks write benchmarks/RESULTS.md (each its own section; bench_load.py rewrites the file,
# so it runs first); about 30 minutes in all (bench_links.py: about 12).
bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/bench_load.py
	$(BIN)/python benchmarks/bench_dataframe.py
	$(BIN)/python benchmarks/bench_embedded.py
	$(BIN)/python benchmarks/bench_faults.py
	$(BIN)/python benchmarks/bench_rerun.py
	$(BIN)/python benchmarks/bench_links.py
	$(BIN)/python benchmarks/bench_frame_links.py
	$(BIN)/python benchmarks/bench_small_files.py
	$(BIN)/python benchmarks/bench_dask.py

clean:
	rm -rf $(VENV) $(KERNEL6) $(CONNECTOR5) $(LOWEST) .pytest_cache .ruff_cache .hypothesis
