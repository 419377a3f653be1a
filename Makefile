# Quick start: `make build` (default accelerator) and `make test` (test suite); both set up .venv first.
PY := .venv/bin/python

.PHONY: setup build test
setup:
	@bash scripts/setup.sh

build: setup
	$(PY) -m sqzfpga build --part xc7z020 --board pynq-z2 --out build

test: setup
	$(PY) -m pytest -q -n 2 --dist loadgroup --durations=30
