# Two commands do everything on a fresh machine:
#   make demo   set up .venv and walk through the server with a real MCP client
#   make test   set up .venv and run the whole test suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The install stamp is keyed on pyproject.toml's content: edit it and the next
# make re-installs.
STAMP := $(VENV)/.installed-$(shell $(PYTHON) -c "import hashlib,pathlib;print(hashlib.sha256(pathlib.Path('pyproject.toml').read_bytes()).hexdigest()[:16])")

.PHONY: setup demo test lint bench clean slurm-up slurm-down output-schemas

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

demo: setup
	HF_HUB_OFFLINE=1 $(PY) demo/demo.py

# The tests read Oumi 0.9's config library: the copy beside the checkout
# (../shared/oumi-configs/0.9) when there is one, else the one synced here from
# PyPI's oumi sdist into the user cache (once; tests/conftest.py finds it there).
TEST_CONFIGS := ../shared/oumi-configs/0.9

test: setup
	$(PY) -m ruff check src tests bench demo scripts
	@test -n "$$OUMI_MCP_TEST_CONFIGS_DIR" || test -d $(TEST_CONFIGS) || \
		$(PY) -m oumi_mcp_server sync-configs --if-missing
	HF_HUB_OFFLINE=1 $(PY) -m pytest

lint: setup
	$(PY) -m ruff check src tests bench demo scripts
	$(PY) -m ruff format --check src tests bench demo scripts
	$(PY) -m mypy src

# The tools' output schemas, generated from the answer models (after changing one).
output-schemas: setup
	$(PY) scripts/write_output_schemas.py

bench: setup
	$(PY) bench/startup.py

# A real single-node Slurm cluster on 127.0.0.1 for the `slurm` tests (as root,
# Debian): installs the packages on first use; `slurm-down` stops its daemons.
slurm-up:
	scripts/slurm-loopback up

slurm-down:
	scripts/slurm-loopback down

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache .mypy_cache
