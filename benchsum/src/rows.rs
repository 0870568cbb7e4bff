//! Every figure `make bench` reports, with the goal its issue sets (issues 3–8) and its same-run baseline.
//! A new benchmark adds its rows here and its command to the Makefile's `bench-all` (a test checks that every
//! command below is one the Makefile runs).

use crate::spec::{Baseline, Goal, LogFigure, Row, Source, Unit};

const NS_PER_US: f64 = 1e3;
const NS_PER_MS: f64 = 1e6;
const NS_PER_S: f64 = 1e9;
const MIB: f64 = 1024.0 * 1024.0;

const HISTOGRAM: &str = "cargo bench -p tailor-core --bench histogram -- {BENCH_ARGS}";
const PLANNER: &str = "cargo bench -p tailor-core --bench planner -- {BENCH_ARGS}";
const SAMPLING: &str = "cargo bench -p tailor-node-agent --bench sampling -- {BENCH_ARGS}";
const AGENT_RSS: &str = "node-agent/bench-rss.sh";
const SCALE: &str = "cargo bench -p tailor-recommender --bench scale -- {BENCH_ARGS}";
const SCALE_MEMORY: &str = "/usr/bin/time -v -o target/bench-figures/scale_memory_20000.time target/release/examples/scale_memory 20000";
const WEBHOOK: &str = "cargo bench -p tailor-updater --bench webhook -- {BENCH_ARGS}";
const OOM_E2E: &str = "cargo test -p tailor-tests --locked --test updater_oom -- --nocapture";
const WEBHOOK_E2E: &str = "cargo test -p tailor-tests --locked --test webhook_e2e -- --nocapture";
const SIM: &str = "cargo bench -p tailor-sim --bench tick -- {BENCH_ARGS}";
const STARTUP: &str = "cargo bench -p tailor-tests --bench startup";
const REPORT: &str = "cargo bench -p tailor-cli --bench report -- {BENCH_ARGS}";

const fn crit(id: &'static str) -> Source {
    Source::Criterion { id, per: 1.0 }
}

const fn crit_per(id: &'static str, per: f64) -> Source {
    Source::Criterion { id, per }
}

const fn base(name: &'static str, source: Source) -> Option<Baseline> {
    Some(Baseline { name, source })
}

const fn figure(file: &'static str, key: &'static str) -> Source {
    Source::Figure { file, key }
}

/// Rows in the order of the table: core, planner, node agent, recommender, updater, report, test bed.
pub fn rows() -> Vec<Row> {
    let mut rows = histogram();
    rows.extend(planner());
    rows.extend(node_agent());
    rows.extend(recommender());
    rows.extend(updater());
    rows.extend(report());
    rows.extend(test_bed());
    rows
}

fn histogram() -> Vec<Row> {
    let row = |figure, source, goal, baseline| Row {
        bench: "core histogram (#3)",
        figure,
        unit: Unit::Time,
        source,
        goal,
        baseline,
        command: HISTOGRAM,
        note: "",
    };
    let clone = base("clone", crit("histogram/clone_baseline"));
    vec![
        row(
            "add one sample",
            crit("histogram/add_sample"),
            Goal::AtMost(50.0),
            None,
        ),
        row(
            "p99 over 176 buckets (bucket end)",
            crit("histogram/percentile_176_buckets_bucket_end"),
            Goal::AtMost(NS_PER_US),
            None,
        ),
        row(
            "p99 over 176 buckets (interpolated)",
            crit("histogram/percentile_176_buckets_interpolate"),
            Goal::AtMost(NS_PER_US),
            None,
        ),
        row(
            "merge a week's histogram",
            crit("histogram/merge_trace_week"),
            Goal::None,
            clone,
        ),
        row(
            "serialise a week's checkpoint",
            crit("histogram/checkpoint_serialise"),
            Goal::None,
            clone,
        ),
        Row {
            unit: Unit::Bytes,
            note: "one week of 1-minute CPU samples of alibaba-2018 c_12104",
            ..row(
                "serialised week histogram",
                figure("histogram.json", "cpu_histogram_week_bytes"),
                Goal::AtMost(1024.0),
                None,
            )
        },
        Row {
            unit: Unit::Bytes,
            ..row(
                "serialised whole aggregate (CPU + memory)",
                figure("histogram.json", "aggregate_checkpoint_bytes"),
                Goal::None,
                None,
            )
        },
    ]
}

fn planner() -> Vec<Row> {
    vec![Row {
        bench: "planner (#7)",
        figure: "planning pass, 50k pods",
        unit: Unit::Time,
        source: crit("planner_pass_50k_pods/full_plan"),
        goal: Goal::AtMost(200.0 * NS_PER_MS),
        baseline: base(
            "QoS-only pass",
            crit("planner_pass_50k_pods/baseline_qos_only"),
        ),
        command: PLANNER,
        note: "",
    }]
}

fn node_agent() -> Vec<Row> {
    let goal = Goal::AtMost(10.0 * NS_PER_US);
    let cpu_table = |label| Source::Log {
        file: "sampling.log",
        parse: LogFigure::TableRow {
            label,
            scale: NS_PER_US,
        },
    };
    let cpu = |figure, label| Row {
        bench: "node-agent sampling (#5)",
        figure,
        unit: Unit::Time,
        source: cpu_table(label),
        goal,
        baseline: base("cgroups-rs", cpu_table("cgroups_rs_0_5_1")),
        command: SAMPLING,
        note: "thread CPU clock, median of rounds over 330 containers on tmpfs (the bench's printed table); \
               the agent keeps files open on cgroupfs and re-opens them on other filesystems",
    };
    let wall = |figure, id| Row {
        source: crit_per(id, 330.0),
        goal: Goal::None,
        baseline: base(
            "cgroups-rs",
            crit_per("sample_330_containers/cgroups_rs_0_5_1", 330.0),
        ),
        note: "criterion wall time; the goal is on CPU time (rows above)",
        ..cpu(figure, "")
    };
    let rss_log = |line, after: &'static [&'static str], scale| Source::Log {
        file: "bench_rss.log",
        parse: LogFigure::Number { line, after, scale },
    };
    let rss = Row {
        bench: "node-agent process (#5)",
        figure: "peak RSS, 330 containers",
        unit: Unit::Bytes,
        source: rss_log("peak RSS:", &["peak RSS:"], MIB),
        goal: Goal::AtMost(30.0 * MIB),
        baseline: base("0 containers", rss_log("peak RSS:", &["containers,"], MIB)),
        command: AGENT_RSS,
        note: "the release binary in --standalone mode, sampling every 100 ms for 20 s",
    };
    vec![
        cpu(
            "CPU per container per sample (keep files open)",
            "agent_keep_open",
        ),
        cpu(
            "CPU per container per sample (re-open files)",
            "agent_reopen",
        ),
        wall(
            "wall per container per sample (keep files open)",
            "sample_330_containers/agent_keep_open",
        ),
        wall(
            "wall per container per sample (re-open files)",
            "sample_330_containers/agent_reopen",
        ),
        Row {
            goal: Goal::None,
            baseline: None,
            note: "",
            ..wall(
                "discovery walk per container",
                "discovery_330_containers/walk",
            )
        },
        rss,
        Row {
            figure: "process CPU per container per sample",
            unit: Unit::Time,
            source: rss_log("CPU:", &["sweeps:"], NS_PER_US),
            goal,
            baseline: None,
            note: "(CPU with 330 containers − CPU with 0) / samples, including runtime and metrics; the script's \
                   default file mode `auto` re-opens files on tmpfs (a real cgroup2 mount gets keep-open: \
                   `FILE_MODE=keep-open node-agent/bench-rss.sh`)",
            ..rss
        },
    ]
}

fn recommender() -> Vec<Row> {
    let pass = Row {
        bench: "recommender scale (#6)",
        figure: "full recommendation pass, 100k containers",
        unit: Unit::Time,
        source: crit("scale_100k/recommend_all"),
        goal: Goal::AtMost(NS_PER_S),
        baseline: None,
        command: SCALE,
        note: "20 000 workloads × 5 containers, one core",
    };
    vec![
        pass,
        Row {
            figure: "report ingestion",
            unit: Unit::Rate("container reports/s"),
            source: Source::CriterionRate {
                id: "scale_100k/ingest_100_containers",
                elements: 100.0,
            },
            goal: Goal::AtLeast(200_000.0),
            note: "node reports of 100 containers through the real apply path",
            ..pass
        },
        Row {
            bench: "recommender memory (#6)",
            figure: "peak RSS, 100k containers",
            unit: Unit::Bytes,
            source: Source::MaxRss {
                file: "scale_memory_20000.time",
            },
            goal: Goal::AtMost(400.0 * MIB),
            baseline: base(
                "empty model",
                Source::MaxRss {
                    file: "scale_memory_0.time",
                },
            ),
            command: SCALE_MEMORY,
            note: "baseline: the same command with `scale_memory 0` (no model)",
        },
    ]
}

fn updater() -> Vec<Row> {
    let webhook = |figure, id| Row {
        bench: "updater webhook (#7)",
        figure,
        unit: Unit::Time,
        source: crit(id),
        goal: Goal::None,
        baseline: base("parse + allow", crit("webhook/baseline_parse_and_allow")),
        command: WEBHOOK,
        note: "",
    };
    let oom = |figure, after| Row {
        bench: "updater OOM fast path (#7)",
        figure,
        unit: Unit::Time,
        source: Source::Log {
            file: "updater_oom.log",
            parse: LogFigure::Duration {
                line: "OOM seen -> resize seen",
                after,
            },
        },
        goal: Goal::AtMost(10.0 * NS_PER_S),
        baseline: None,
        command: OOM_E2E,
        note: "on the test bed, between the pod update carrying the kill and the one carrying the resize as a watch delivers them; goal: the issue's \"within seconds\" as the test bounds it",
    };
    let creation = |figure, with: &'static [&'static str], without| Row {
        bench: "webhook pod creation (#7)",
        figure,
        unit: Unit::Time,
        source: log_ms(with),
        goal: Goal::None,
        baseline: base("without webhook", log_ms(without)),
        command: WEBHOOK_E2E,
        note: "40 sequential pod creations each on the test bed",
    };
    vec![
        webhook("admission review, pod with a VPA", "webhook/review_mutate"),
        webhook(
            "admission review, pod without a VPA",
            "webhook/review_no_vpa",
        ),
        oom("OOM kill to resize, p50", &["p50"]),
        oom("OOM kill to resize, p99", &["p99"]),
        creation(
            "pod creation with webhook, p50",
            &["with webhook", "p50"],
            &["without", "p50"],
        ),
        creation(
            "pod creation with webhook, p99",
            &["with webhook", "p99"],
            &["without", "p99"],
        ),
    ]
}

const fn log_ms(after: &'static [&'static str]) -> Source {
    Source::Log {
        file: "webhook_e2e.log",
        parse: LogFigure::Number {
            line: "pod creation (",
            after,
            scale: NS_PER_MS,
        },
    }
}

fn report() -> Vec<Row> {
    let row = |figure, id| Row {
        bench: "tailor report (#6)",
        figure,
        unit: Unit::Time,
        source: crit(id),
        goal: Goal::None,
        baseline: base("reading pod facts only", crit("report_20k_pods/pod_facts")),
        command: REPORT,
        note: "",
    };
    vec![
        Row {
            note: "2 000 Deployments with a VPA × 10 replicas × 2 containers, half with a checkpoint",
            ..row("assemble a report, 20k pods", "report_20k_pods/assemble")
        },
        Row {
            baseline: None,
            ..row("render it as a table", "report_20k_pods/table")
        },
        Row {
            baseline: None,
            ..row("render it as JSON", "report_20k_pods/json")
        },
        Row {
            baseline: None,
            ..row("render it as CSV", "report_20k_pods/csv")
        },
    ]
}

fn test_bed() -> Vec<Row> {
    let tick = |figure, id| Row {
        bench: "simulated kubelet (#4)",
        figure,
        unit: Unit::Time,
        source: crit_per(
            id,
            if id.ends_with("100_pods") {
                100.0
            } else {
                10.0
            },
        ),
        goal: Goal::None,
        baseline: base(
            "one container's cgroup step",
            crit("cgroup_step_one_container"),
        ),
        command: SIM,
        note: "",
    };
    vec![
        tick("node tick per pod, 10 pods", "node_tick_10_pods"),
        tick("node tick per pod, 100 pods", "node_tick_100_pods"),
        Row {
            bench: "test bed (#4)",
            figure: "control plane start-up, median",
            unit: Unit::Time,
            source: figure("startup.json", "median_ns"),
            goal: Goal::AtMost(20.0 * NS_PER_S),
            baseline: base(
                "`kube-apiserver --version`",
                figure("startup.json", "apiserver_version_ns"),
            ),
            command: STARTUP,
            note: "etcd, kube-apiserver, controller manager and scheduler until ready, median of 3",
        },
    ]
}
