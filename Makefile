# make demo : create .venv, install mlplab, run the main job: train examples/digits.toml into a run
#             folder with its HTML report (offline: scikit-learn's bundled digits)
# make test : create .venv with the test extras, install the Fashion-MNIST package and chromium
#             when possible, check lint, format and types (ruff, mypy), run the suite
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
FASHION_DIR := /usr/share/datasets/fashion-mnist

.PHONY: demo test lint venv venv-test data browser clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml setup.py src/mlplab/_sweep.c | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml setup.py src/mlplab/_sweep.c | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed

venv: $(VENV)/.installed
venv-test: $(VENV)/.installed-test

# Fashion-MNIST for the acceptance tests: Debian's package, installed only when missing and possible
# (root with apt-get); otherwise the tests that need it skip with a reason.
data:
	@if [ -d $(FASHION_DIR) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		(apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist >/dev/null) \
		|| echo "note: could not install dataset-fashion-mnist; Fashion-MNIST tests will skip"; \
	else echo "note: $(FASHION_DIR) missing and apt-get unavailable; Fashion-MNIST tests will skip"; fi

# headless Chromium for the report's browser tests: Debian's package, installed only when missing and
# possible (root with apt-get); otherwise those tests skip with a reason. Never fails the build.
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		(apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
		|| echo "note: could not install chromium; the report's browser tests will skip"; \
	else echo "note: /usr/bin/chromium missing and apt-get unavailable; browser tests will skip"; fi

demo: venv
	$(BIN)/python -m mlplab train examples/digits.toml --runs-dir demo-out/runs

test: venv-test data browser lint
	$(BIN)/python -m pytest -q

# ruff (rules and format in pyproject.toml) and mypy (non-strict, src/) must pass
lint: venv-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache src/mlplab/*.so
