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

# Benchmarks (issue 8): `make bench` runs every benchmark (the `bench-all` prerequisites, one after the other, carrying
# on past a failure), then prints ONE table of every figure with its goal, its ratio to a baseline measured in the same
# run and the exact command behind it (benchsum/), and writes it to docs/benchmarks.md. BENCH_ARGS go to every criterion
# bench, e.g. BENCH_ARGS="--warm-up-time 1 --measurement-time 3" for a quicker run. Figures that are not criterion's own
# (sizes, thread CPU, RSS, e2e latencies) go to $(BENCH_FIGURES), as figure files the benches write or as the logs of
# what they print; a bench that did not run in this run shows as missing, never with an old figure.
# `make bench-summary` prints the table again from the last run's files.
.PHONY: bench-all bench-start bench-summary bench-histogram bench-recommender bench-webhook bench-e2e bench-startup
BENCH_ARGS ?=
BENCH_FIGURES := target/bench-figures
BENCH_ENV = TAILOR_BENCH_FIGURES=$(CURDIR)/$(BENCH_FIGURES)
BENCH_SUMMARY = $(CARGO) run --locked -q -p tailor-benchsum --bin bench-summary -- --bench-args "$(BENCH_ARGS)"
bench:
	@status=0; $(MAKE) --no-print-directory -k bench-all || status=$$?; \
	cat /proc/loadavg > $(BENCH_FIGURES)/loadavg-end; \
	$(BENCH_SUMMARY) --out docs/benchmarks.md || status=$$?; \
	exit $$status

bench-summary:
	$(BENCH_SUMMARY)

# First of bench-all: marks the run's start (older result files are stale) and the load average then.
bench-start:
	rm -rf $(BENCH_FIGURES) && mkdir -p $(BENCH_FIGURES)
	cat /proc/loadavg > $(BENCH_FIGURES)/loadavg-start
	touch $(BENCH_FIGURES)/started

bench-all: bench-start

# Core (issue 3): histogram add, percentile, merge, and the serialised size of a week of samples.
bench-histogram:
	mkdir -p $(BENCH_FIGURES)
	$(BENCH_ENV) $(CARGO) bench -p tailor-core --bench histogram -- $(BENCH_ARGS)

bench-all: bench-histogram

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
.PHONY: eval eval-small eval-sweep vpa-driver
TRACES ?= ../shared/traces
vpa-driver:
	eval/vpa-driver/build.sh

eval: vpa-driver
	$(CARGO) run --release --locked -p tailor-eval -- --traces $(TRACES) --driver .build/vpa-driver --out docs/eval --candidates

# The settings grid of eval/src/sweep.rs against the upstream VPA, written to docs/eval/sweep.md (a few minutes).
eval-sweep: vpa-driver
	$(CARGO) run --release --locked -p tailor-eval -- --traces $(TRACES) --driver .build/vpa-driver --out docs/eval --sweep

eval-small: vpa-driver
	$(CARGO) test --locked -p tailor-eval --test upstream -- --nocapture

unit: vpa-driver

# Planner (issue 7): one planning pass over 50 000 pods against a QoS-only baseline pass (goal <= 200 ms).
.PHONY: bench-planner
bench-planner:
	$(CARGO) bench -p tailor-core --bench planner -- $(BENCH_ARGS)

bench-all: bench-planner

# Node agent (issue 5): per-container sampling cost on 330 containers against cgroups-rs in the same run
# (criterion + thread CPU time), then the binary's peak RSS and CPU against 330 containers on tmpfs.
.PHONY: bench-node-agent fuzz-node-agent
bench-node-agent:
	mkdir -p $(BENCH_FIGURES)
	set -o pipefail; $(CARGO) bench -p tailor-node-agent --bench sampling -- $(BENCH_ARGS) | tee $(BENCH_FIGURES)/sampling.log
	set -o pipefail; node-agent/bench-rss.sh | tee $(BENCH_FIGURES)/bench_rss.log

bench-all: bench-node-agent

fuzz-node-agent:
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	cd node-agent/fuzz && cargo +nightly fuzz run cgroup_files -- -max_total_time=$(FUZZ_SECONDS)

fuzz: fuzz-node-agent

# Simulated kubelet (issue 4): cost of one node tick (lifecycle, resize checks, cgroup file rewrite) vs the pure
# per-container cgroup step.
.PHONY: bench-sim
bench-sim:
	$(CARGO) bench -p tailor-sim --bench tick -- $(BENCH_ARGS)

bench-all: bench-sim

# Recommender (issue 6): a full pass and report ingestion at 100k containers (criterion), then the peak RSS of the
# 100k-container model against an empty one, both under /usr/bin/time -v.
bench-recommender:
	mkdir -p $(BENCH_FIGURES)
	$(CARGO) bench -p tailor-recommender --bench scale -- $(BENCH_ARGS)
	$(CARGO) build --release --locked -p tailor-recommender --example scale_memory
	/usr/bin/time -v -o $(BENCH_FIGURES)/scale_memory_0.time target/release/examples/scale_memory 0
	/usr/bin/time -v -o $(BENCH_FIGURES)/scale_memory_20000.time target/release/examples/scale_memory 20000

bench-all: bench-recommender

# Updater (issue 7): the admission webhook per request against a parse-and-allow baseline.
bench-webhook:
	$(CARGO) bench -p tailor-updater --bench webhook -- $(BENCH_ARGS)

bench-all: bench-webhook

# On the test bed (issue 7): OOM kill -> in-place resize latency, and pod creation with and without the webhook; the
# tests print the figures, their logs are kept for the summary.
bench-e2e: controlplane
	mkdir -p $(BENCH_FIGURES)
	set -o pipefail; $(CARGO) test -p tailor-tests --locked --test updater_oom -- --nocapture 2>&1 | tee $(BENCH_FIGURES)/updater_oom.log
	set -o pipefail; $(CARGO) test -p tailor-tests --locked --test webhook_e2e -- --nocapture 2>&1 | tee $(BENCH_FIGURES)/webhook_e2e.log

bench-all: bench-e2e

# Test bed (issue 4): control plane start-up, median of 3, against `kube-apiserver --version`.
bench-startup: controlplane
	mkdir -p $(BENCH_FIGURES)
	$(BENCH_ENV) $(CARGO) bench -p tailor-tests --bench startup

bench-all: bench-startup

# `tailor report` (issue 6): its end-to-end test lives in cli/ because it runs the built `tailor` binary, which Cargo
# only hands to that crate's tests; `make test` runs it with the workspace, `make e2e` here.
.PHONY: e2e-report
e2e-report: controlplane
	$(CARGO) test -p tailor-cli --locked --test report_e2e

e2e: e2e-report

# `tailor report` (issue 6): assembling and rendering a report over 20 000 pods / 2 000 VPAs, against the baseline
# of only reading the pods' facts.
.PHONY: bench-report
bench-report:
	$(CARGO) bench -p tailor-cli --bench report -- $(BENCH_ARGS)

bench-all: bench-report
