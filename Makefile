# The two set-up commands the README promises: `make demo` and `make test`. Everything else is a building block.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: test lint fmt-check clippy unit bench demo

test: fmt-check clippy unit

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

unit:
	$(CARGO) test --workspace --locked

bench:
	$(CARGO) bench -p tailor-core --bench histogram

demo:
	@echo "make demo is not available yet: it needs the test bed (issue 4) and all three components." >&2
	@exit 2
