# vmcore: `make run` (set up + the main job) and `make test` (set up + the whole suite).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: install run test lint bench soak guests tools clean

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
test: install guests tools lint
	scripts/with-postgres $(BIN)/pytest -m "not soak" $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check vmcore vmcore_domain_services vmcore_event_store tests bench examples
	$(BIN)/mypy

soak: install guests tools
	scripts/with-postgres $(BIN)/pytest -m soak $(PYTEST_ARGS)

bench: install guests tools
	scripts/ensure-apt-packages redis-server redis-server
	scripts/with-postgres $(BIN)/python -m bench

# The example RISC-V guests, built with Debian's bare-metal cross toolchain, and the
# bare-metal probes the MMU oracle tests boot in QEMU 7.2 (toolchain and QEMU are installed
# from Debian packages on first use when missing).
QEMU_PROBES := tests/differential/qemu_system/riscv_probe tests/differential/qemu_system/x86_probe

guests:
	scripts/ensure-apt-packages riscv64-unknown-elf-gcc gcc-riscv64-unknown-elf \
		qemu-system-riscv64 qemu-system-misc qemu-system-x86_64 qemu-system-x86
	$(MAKE) -C examples/guests
	for probe in $(QEMU_PROBES); do $(MAKE) -C $$probe || exit 1; done

# The real clients and peers the server tests drive: gdb-multiarch against the GDB stub,
# headless Chromium (with its driver) against the dashboard, nc against the bus service,
# redis-server as the bus service benchmark's peer (its --quick run is a test); curl for
# docs/api.md's examples.
tools:
	scripts/ensure-apt-packages gdb-multiarch gdb-multiarch chromium chromium \
		chromedriver chromium-driver nc netcat-openbsd redis-server redis-server curl curl

clean:
	rm -rf $(VENV) .vmcore .pytest_cache .mypy_cache .ruff_cache
	$(MAKE) -C examples/guests clean
	for probe in $(QEMU_PROBES); do $(MAKE) -C $$probe clean; done
