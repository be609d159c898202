# Two commands for a newcomer: `make demo` and `make test`. Each bootstraps
# .venv on first use (Python >= 3.11; set PYTHON=... to pick one).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1

# CPython 3.13 (the functions' Lambda runtime), for `sam build` and the 3.13
# test run: on PATH, or under pyenv.
PYTHON313 ?= $(shell for c in python3.13 $$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.13*/bin/python3.13 2>/dev/null | sort -rV); do \
	p=$$(command -v $$c 2>/dev/null) && $$p -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null && { echo $$p; break; }; done)
NEED313 = @test -n "$(PYTHON313)" || { echo "CPython 3.13 is needed here (the python3.13 Lambda runtime) but none was found on PATH or under pyenv. Install it (pyenv install 3.13) or pass PYTHON313=/path/to/python3.13." >&2; exit 1; }

.PHONY: demo test test-313 fuzz sam-validate sam-build bench clean

$(VENV)/.installed: pyproject.toml local/pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is needed, found " + sys.version.split()[0] + ": run make with PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[dev]' -e ./local
	@touch $@

demo: $(VENV)/.installed
	$(PY) -m clerk_serverless_local demo

test: $(VENV)/.installed
	PYTHON313="$(PYTHON313)" $(PY) -m pytest $(PYTEST_ARGS)

# The hostile-input properties with a long profile.
fuzz: $(VENV)/.installed
	CLERK_FUZZ_EXAMPLES=$${CLERK_FUZZ_EXAMPLES:-50000} $(PY) -m pytest -m fuzz -q

# The suite again on Python 3.13, in its own environment.
test-313:
	$(NEED313)
	$(MAKE) test PYTHON="$(PYTHON313)" VENV=.venv-3.13 PYTEST_ARGS="$(PYTEST_ARGS)"

sam-validate: $(VENV)/.installed
	$(VENV)/bin/sam validate --lint

sam-build: $(VENV)/.installed
	$(NEED313)
	PATH="$(dir $(PYTHON313)):$$PATH" PYTHON="$(abspath $(PY))" $(VENV)/bin/sam build $(SAM_ARGS)

bench: $(VENV)/.installed
	$(PY) bench/bench.py
	$(PY) bench/importtime.py
	$(PY) bench/coldstart.py
	$(PY) bench/scale.py

clean:
	rm -rf $(VENV) .venv-3.13 .aws-sam .pytest_cache .hypothesis build *.egg-info
