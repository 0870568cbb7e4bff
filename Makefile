# The two set-up commands the README promises: `make demo` and `make test`. Everything else is a building block.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: test lint fmt-check clippy unit bench demo fuzz
FUZZ_SECONDS ?= 60

test: fmt-check clippy unit

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

unit:
	$(CARGO) test --workspace --locked

bench:
	$(CARGO) bench -p tailor-core --bench histogram

# Coverage-guided fuzzing of the parsers of outside input (needs the nightly toolchain; installs cargo-fuzz).
fuzz:
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	cd core/fuzz && for t in quantity checkpoint; do \
		cargo +nightly fuzz run $$t -- -max_total_time=$(FUZZ_SECONDS) || exit 1; done

# The demo: a local control plane, two simulated nodes with realistic workloads, and the node-agents, recommender
# and updater as real processes (release binaries), with a live table and a summary. DEMO_ARGS: e.g.
# --keep-running (stay up until Ctrl-C and print the admin kubeconfig) or --duration-seconds=300.
DEMO_ARGS ?=
demo: controlplane
	$(CARGO) build --release --locked -p tailor-node-agent -p tailor-recommender -p tailor-updater -p tailor-demo
	$(CARGO) run --release --locked -p tailor-demo -- $(DEMO_ARGS)

# Test bed (issue 4): etcd, kube-apiserver, kube-controller-manager and kube-scheduler built from the Go modules
# pinned in tests/controlplane/go.mod into .build/controlplane/bin (reused until the pins change; needs Go >= 1.26).
# The end-to-end tests in `unit` start them, so they are built first. `make e2e` runs only those tests.
.PHONY: controlplane e2e
controlplane:
	tests/controlplane/build.sh

unit: controlplane

e2e: controlplane
	$(CARGO) test -p tailor-tests --locked

# Evaluation (issue 8): replays the traces in ../shared/traces through Tailor, the upstream VPA recommender (its own
# Go packages, built by eval/vpa-driver/build.sh into .build/vpa-driver; needs Go >= 1.26) and baselines, prints a
# table per dataset and writes docs/eval/results.md and plots. `make test` runs the small subset (eval/tests).
.PHONY: eval eval-small vpa-driver
TRACES ?= ../shared/traces
vpa-driver:
	eval/vpa-driver/build.sh

eval: vpa-driver
	$(CARGO) run --release --locked -p tailor-eval -- --traces $(TRACES) --driver .build/vpa-driver --out docs/eval --candidates

eval-small: vpa-driver
	$(CARGO) test --locked -p tailor-eval --test upstream -- --nocapture

unit: vpa-driver

# Planner (issue 7): one planning pass over 50 000 pods against a QoS-only baseline pass (goal <= 200 ms).
.PHONY: bench-planner
bench-planner:
	$(CARGO) bench -p tailor-core --bench planner

bench: bench-planner

# Node agent (issue 5): per-container sampling cost on 330 containers against cgroups-rs in the same run
# (criterion + thread CPU time), then the binary's peak RSS and CPU against 330 containers on tmpfs.
.PHONY: bench-node-agent fuzz-node-agent
bench-node-agent:
	$(CARGO) bench -p tailor-node-agent --bench sampling
	node-agent/bench-rss.sh

bench: bench-node-agent

fuzz-node-agent:
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	cd node-agent/fuzz && cargo +nightly fuzz run cgroup_files -- -max_total_time=$(FUZZ_SECONDS)

fuzz: fuzz-node-agent

# Simulated kubelet (issue 4): cost of one node tick (lifecycle, resize checks, cgroup file rewrite) vs the pure
# per-container cgroup step.
.PHONY: bench-sim
bench-sim:
	$(CARGO) bench -p tailor-sim --bench tick

bench: bench-sim

# `tailor report` (issue 6): its end-to-end test lives in cli/ because it runs the built `tailor` binary, which Cargo
# only hands to that crate's tests; `make test` runs it with the workspace, `make e2e` here.
.PHONY: e2e-report
e2e-report: controlplane
	$(CARGO) test -p tailor-cli --locked --test report_e2e

e2e: e2e-report
