# vmcore: `make run` (set up + the main job) and `make test` (set up + the whole suite).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: install run test lint bench soak guests clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: install
	$(BIN)/vmcore demo

# The whole suite, PostgreSQL included: scripts/with-postgres starts a throwaway server on
# loopback unless POSTGRES_HOST / POSTGRES_DSN point at one.
test: install guests lint
	scripts/with-postgres $(BIN)/pytest -m "not soak" $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check vmcore vmcore_domain_services vmcore_event_store tests bench examples
	$(BIN)/mypy

soak: install guests
	scripts/with-postgres $(BIN)/pytest -m soak $(PYTEST_ARGS)

bench: install guests
	scripts/with-postgres $(BIN)/python -m bench

# The example RISC-V guests, built with Debian's bare-metal cross toolchain (installed on
# first use when missing).
guests:
	scripts/ensure-apt-packages riscv64-unknown-elf-gcc gcc-riscv64-unknown-elf
	$(MAKE) -C examples/guests

clean:
	rm -rf $(VENV) .vmcore .pytest_cache .mypy_cache .ruff_cache
	$(MAKE) -C examples/guests clean
