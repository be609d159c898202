# Two commands for a newcomer: `make demo` and `make test`. Each bootstraps
# .venv on first use (Python >= 3.11; set PYTHON=... to pick one).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1

# The functions' Lambda runtime: the default of template.yaml's PythonRuntime
# parameter, the one place it is written (layers/clerk/Makefile reads it the
# same way). `make sam-build LAMBDA_RUNTIME=python3.14` builds for another.
LAMBDA_RUNTIME ?= $(shell awk '/^  PythonRuntime:/ {p = 1; next} p && /^  [^ ]/ {exit} p && $$1 == "Default:" {print $$2; exit}' template.yaml)
RUNTIME_VERSION = $(patsubst python%,%,$(LAMBDA_RUNTIME))
export LAMBDA_RUNTIME

# CPython of that runtime, for `sam build` and the test-runtime run: on PATH,
# or under pyenv. PYTHON313= is the older name of RUNTIME_PYTHON=.
RUNTIME_PYTHON ?= $(or $(PYTHON313),$(shell v='$(RUNTIME_VERSION)'; for c in python$$v $$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/$$v*/bin/python$$v 2>/dev/null | sort -rV); do \
	p=$$(command -v $$c 2>/dev/null) && $$p -c 'import sys; sys.exit("%d.%d" % sys.version_info[:2] != sys.argv[1])' "$$v" 2>/dev/null && { echo $$p; break; }; done))
NEED_RUNTIME = @test -n "$(RUNTIME_PYTHON)" || { echo "CPython $(RUNTIME_VERSION) is needed here (the $(LAMBDA_RUNTIME) Lambda runtime) but none was found on PATH or under pyenv. Install it (pyenv install $(RUNTIME_VERSION); or make runtime-python LAMBDA_RUNTIME=$(LAMBDA_RUNTIME) takes it from the Debian archive) or pass RUNTIME_PYTHON=/path/to/python$(RUNTIME_VERSION)." >&2; exit 1; }

.PHONY: demo test runtime-python test-runtime test-313 fuzz lint docs build sam-validate sam-build bench clean

$(VENV)/.installed: pyproject.toml local/pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is needed, found " + sys.version.split()[0] + ": run make with PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet $(PIP_ARGS) -e '.[dev]' -e ./local
	@touch $@

demo: $(VENV)/.installed
	$(PY) -m clerk_serverless_local demo

test: $(VENV)/.installed
	RUNTIME_PYTHON="$(RUNTIME_PYTHON)" PYTHON313="$(RUNTIME_PYTHON)" $(PY) -m pytest $(PYTEST_ARGS)

# The hostile-input properties with a long profile.
fuzz: $(VENV)/.installed
	CLERK_FUZZ_EXAMPLES=$${CLERK_FUZZ_EXAMPLES:-50000} $(PY) -m pytest -m fuzz -q

# CPython of the functions' runtime, when none is found: the newest of its
# series from Debian's archive (dev/cpython-from-debian.sh), into pyenv's
# versions, where RUNTIME_PYTHON finds it. For machines without python.org:
# `make runtime-python test-runtime LAMBDA_RUNTIME=python3.14`.
runtime-python:
	@if [ -n "$(RUNTIME_PYTHON)" ]; then echo "CPython $(RUNTIME_VERSION): $(RUNTIME_PYTHON)"; \
	else dev/cpython-from-debian.sh $(RUNTIME_VERSION); fi

# The suite again on the functions' runtime Python, in its own environment.
test-runtime:
	$(NEED_RUNTIME)
	$(MAKE) test PYTHON="$(RUNTIME_PYTHON)" VENV=.venv-$(RUNTIME_VERSION) PYTEST_ARGS="$(PYTEST_ARGS)"

test-313: test-runtime

# ruff (pyflakes, bugbear, pyupgrade, isort, simplify, pycodestyle), mypy
# --strict on the library and the dev tools (local/), the workflows (zizmor, offline: the workflow schema,
# then its security audits) and the shell scripts (shellcheck).
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy --strict clerk_serverless local/clerk_serverless_local
	$(VENV)/bin/zizmor --offline --strict-collection --no-progress .github/workflows
	$(VENV)/bin/shellcheck .ci/run dev/cpython-from-debian.sh

# The API reference (docs/, mkdocs.yml) into site/, offline; warnings fail it.
docs: $(VENV)/.installed
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

# sdist and wheel of both distributions into dist/, checked.
build: $(VENV)/.installed
	rm -rf dist
	$(PY) -m build --outdir dist .
	$(PY) -m build --outdir dist local
	$(VENV)/bin/twine check --strict dist/*
	$(PY) .ci/check_dist.py dist

sam-validate: $(VENV)/.installed
	$(VENV)/bin/sam validate --lint

# PythonRuntime joins any --parameter-overrides of SAM_ARGS (sam keeps only the
# last such option); the layer learns the same runtime from LAMBDA_RUNTIME.
SAM_BUILD_ARGS = $(if $(findstring --parameter-overrides,$(SAM_ARGS)),$(subst --parameter-overrides,--parameter-overrides PythonRuntime=$(LAMBDA_RUNTIME),$(SAM_ARGS)),$(SAM_ARGS) --parameter-overrides PythonRuntime=$(LAMBDA_RUNTIME))

sam-build: $(VENV)/.installed
	$(NEED_RUNTIME)
	@case '$(SAM_ARGS)' in *PythonRuntime=*) echo "set the runtime with LAMBDA_RUNTIME=python3.X, not in SAM_ARGS (the layer must learn it too)" >&2; exit 2;; esac
	PATH="$(dir $(RUNTIME_PYTHON)):$$PATH" PYTHON="$(abspath $(PY))" \
		$(VENV)/bin/sam build $(SAM_BUILD_ARGS)

bench: $(VENV)/.installed
	$(PY) bench/bench.py
	$(PY) bench/importtime.py
	$(PY) bench/coldstart.py
	$(PY) bench/scale.py

clean:
	rm -rf $(VENV) .venv-3.* .aws-sam .pytest_cache .hypothesis .mypy_cache .ruff_cache build dist site *.egg-info local/*.egg-info
