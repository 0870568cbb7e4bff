use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use serde_json::{Value, json};
use tailor_core::model::{AggregateConfig, AggregateState, OomFloor, WorkloadKey, WorkloadKind};
use tailor_core::quantity::{Bytes, MilliCpu};
use tailor_recommender::checkpoint::{FORMAT_VERSION, StoredContainer, configmap_name};

use super::*;
use crate::report::Spread;

/// 2026-11-23T06:00:00Z.
const NOW_MS: i64 = 1_795_413_600_000;

fn now() -> Timestamp {
    Timestamp::from_unix_millis(NOW_MS)
}

fn options() -> Options {
    Options {
        now: now(),
        oom_window: Duration::from_secs(3600),
    }
}

fn owner(kind: &str, name: &str) -> Value {
    json!([{"apiVersion": "apps/v1", "kind": kind, "name": name, "uid": format!("uid-{name}"), "controller": true}])
}

/// A pod of ReplicaSet `rs` with container `app` (and optionally `side`), with its status.
fn pod(name: &str, rs: &str, cpu: &str, memory: &str, status: Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "shop", "uid": format!("uid-{name}"),
                     "ownerReferences": owner("ReplicaSet", rs)},
        "spec": {"containers": [
            {"name": "app", "resources": {"requests": {"cpu": cpu, "memory": memory},
                                          "limits": {"cpu": "1", "memory": "256Mi"}}},
            {"name": "side", "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}
        ]},
        "status": status
    }))
    .expect("pod")
}

fn vpa(name: &str, target: &str, extra_spec: Value, status: Value) -> VerticalPodAutoscaler {
    let mut spec = json!({"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
                          "updatePolicy": {"updateMode": "InPlace"}});
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra_spec.as_object()) {
        spec.extend(extra.clone());
    }
    serde_json::from_value(json!({
        "apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": spec, "status": status
    }))
    .expect("vpa")
}

fn recommendation(cpu: &str, memory: &str) -> Value {
    json!({"containerName": "app", "target": {"cpu": cpu, "memory": memory},
           "lowerBound": {"cpu": "50m", "memory": "64Mi"}, "upperBound": {"cpu": "2", "memory": "1Gi"}})
}

fn checkpoint_for(workload: &WorkloadKey, container: &str, floor: Option<OomFloor>) -> ConfigMap {
    let mut aggregate = AggregateState::new(
        &AggregateConfig::upstream(),
        Timestamp::from_unix_millis(NOW_MS - 7_200_000),
    )
    .to_checkpoint();
    aggregate.oom_floor = floor;
    aggregate.total_samples = 120;
    let stored = StoredContainer {
        version: FORMAT_VERSION,
        workload: workload.clone(),
        container: container.to_owned(),
        written_ms: NOW_MS,
        aggregate,
    };
    ConfigMap {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: Some(configmap_name(workload)),
            namespace: Some("tailor-system".into()),
            ..Default::default()
        },
        data: Some(BTreeMap::from([(
            format!("{container}.json"),
            serde_json::to_string(&stored).expect("json"),
        )])),
        ..ConfigMap::default()
    }
}

fn snapshot() -> Snapshot {
    let mut owners = OwnerIndex::default();
    owners.insert(
        "ReplicaSet",
        "shop",
        "web-5d9",
        serde_json::from_value(owner("Deployment", "web")).expect("refs"),
    );
    let oom_status = json!({"phase": "Running", "containerStatuses": [
        {"name": "app", "image": "i", "imageID": "", "ready": true, "restartCount": 2,
         "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled",
                                      "finishedAt": "2026-11-23T05:50:00Z"}}}]});
    let old_oom_status = json!({"phase": "Running", "containerStatuses": [
        {"name": "app", "image": "i", "imageID": "", "ready": true, "restartCount": 1,
         "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled",
                                      "finishedAt": "2026-11-22T05:50:00Z"}}}]});
    let web = WorkloadKey::new("shop", WorkloadKind::Deployment, "web");
    Snapshot {
        vpas: vec![
            vpa(
                "web",
                "web",
                json!({"resourcePolicy": {"containerPolicies": [{"containerName": "side", "mode": "Off"}]}}),
                json!({"recommendation": {"containerRecommendations": [recommendation("120m", "300Mi")]},
                       "conditions": [{"type": "LowConfidence", "status": "True"},
                                      {"type": "CPUThrottled", "status": "True", "message":
                                       "throttled in 10% or more of CFS periods over recent hours: app 23%"}]}),
            ),
            vpa("ghost", "gone", json!({}), json!({})),
            vpa(
                "odd",
                "web",
                json!({"updatePolicy": {"updateMode": "Sometimes"}}),
                json!({}),
            ),
        ],
        pods: vec![
            pod("web-a", "web-5d9", "500m", "128Mi", oom_status),
            pod("web-b", "web-5d9", "500m", "512Mi", old_oom_status),
            pod(
                "web-done",
                "web-5d9",
                "500m",
                "512Mi",
                json!({"phase": "Succeeded"}),
            ),
            pod(
                "orphan",
                "unknown-rs",
                "1",
                "1Gi",
                json!({"phase": "Running"}),
            ),
        ],
        owners,
        checkpoints: vec![checkpoint_for(
            &web,
            "app",
            Some(OomFloor {
                memory: Bytes(356 << 20),
                until: Timestamp::from_unix_millis(NOW_MS + 3_600_000),
            }),
        )],
        warnings: vec![],
    }
}

fn row<'a>(report: &'a Report, vpa: &str, container: &str) -> &'a Row {
    report
        .rows
        .iter()
        .find(|r| r.vpa == vpa && r.container == container)
        .unwrap_or_else(|| panic!("row {vpa}/{container}"))
}

#[test]
fn web_app_row_has_current_recommendation_savings_and_risks() {
    let report = assemble(&snapshot(), options());
    let app = row(&report, "web", "app");
    assert_eq!(
        (app.workload_kind.as_str(), app.workload_name.as_str()),
        ("Deployment", "web")
    );
    assert_eq!(
        app.replicas, 2,
        "the finished pod and the orphan are not replicas"
    );
    assert_eq!(app.mode, "InPlace");
    assert_eq!(app.cpu.target, Some(MilliCpu(120)));
    assert_eq!(app.cpu.savings, Some(MilliCpu(760)));
    assert_eq!(
        app.memory.request,
        Some(Spread {
            min: Bytes(128 << 20),
            max: Bytes(512 << 20)
        })
    );
    assert_eq!(
        app.memory.savings,
        Some(Bytes(40 << 20)),
        "640Mi − 2 × 300Mi"
    );
    assert_eq!(app.memory.lower_bound, Some(Bytes(64 << 20)));
    assert_eq!(
        app.flags,
        vec![
            Flag::LowConfidence,
            Flag::OomKilled {
                pods: 1,
                last_ms: Some(NOW_MS - 600_000)
            },
            Flag::OomFloor {
                memory_bytes: 356 << 20,
                until_ms: NOW_MS + 3_600_000
            },
            Flag::Restarts { count: 3 },
            Flag::UnderProvisioned { resource: "memory" },
            Flag::CpuThrottled { percent: 23 },
            Flag::MemoryLimitBelowTarget,
        ]
    );
    assert_eq!(app.history.as_ref().map(|h| h.samples), Some(120));
    assert!(
        report.warnings.iter().any(|w| w.contains("unknown-rs")),
        "unresolvable pod is a warning: {:?}",
        report.warnings
    );
}

#[test]
fn container_with_policy_off_is_shown_uncontrolled_without_recommendation() {
    let report = assemble(&snapshot(), options());
    let side = row(&report, "web", "side");
    assert_eq!(side.mode, "Off");
    assert!(!side.cpu.controlled && !side.memory.controlled);
    assert_eq!(side.cpu.target, None);
    assert_eq!(side.cpu.requested_total, MilliCpu(20));
    assert!(!side.flags.contains(&Flag::NoRecommendation));
}

#[test]
fn vpa_without_pods_or_with_unknown_mode_still_gets_a_row() {
    let report = assemble(&snapshot(), options());
    let ghost = row(&report, "ghost", "");
    assert_eq!(ghost.replicas, 0);
    assert_eq!(ghost.flags, vec![Flag::NoPods, Flag::NoRecommendation]);
    let odd = report
        .rows
        .iter()
        .find(|r| r.vpa == "odd")
        .expect("odd row");
    assert!(matches!(odd.flags[0], Flag::ConfigUnsupported { .. }));
    assert_eq!(odd.replicas, 2, "still matched on its targetRef");
}

#[test]
fn totals_cover_rows_with_a_target_only() {
    let report = assemble(&snapshot(), options());
    let t = report.totals;
    assert_eq!(t.rows, 5, "web app, web side, ghost, odd app, odd side");
    assert_eq!(t.rows_with_recommendation, 1);
    assert_eq!(t.cpu.requested, MilliCpu(1000));
    assert_eq!(t.cpu.recommended, MilliCpu(240));
    assert_eq!(t.cpu.savings, MilliCpu(760));
    assert_eq!(t.memory.savings, Bytes(40 << 20));
    assert_eq!(t.memory.increases, Bytes(0), "net per row, not per replica");
}

#[test]
fn rows_are_sorted_and_expired_floors_and_old_ooms_are_dropped() {
    let mut s = snapshot();
    s.checkpoints = vec![checkpoint_for(
        &WorkloadKey::new("shop", WorkloadKind::Deployment, "web"),
        "app",
        Some(OomFloor {
            memory: Bytes(1),
            until: Timestamp::from_unix_millis(NOW_MS - 1),
        }),
    )];
    let report = assemble(
        &s,
        Options {
            now: now(),
            oom_window: Duration::from_secs(60),
        },
    );
    let app = row(&report, "web", "app");
    assert!(
        !app.flags
            .iter()
            .any(|f| matches!(f, Flag::OomKilled { .. } | Flag::OomFloor { .. })),
        "{:?}",
        app.flags
    );
    let names: Vec<&str> = report
        .rows
        .iter()
        .map(|r| r.workload_name.as_str())
        .collect();
    assert_eq!(names, vec!["gone", "web", "web", "web", "web"]);
}

#[test]
fn unreadable_checkpoint_entries_become_warnings() {
    let mut s = snapshot();
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("tailor-checkpoint-x".into());
    cm.data = Some(BTreeMap::from([("app.json".into(), "{not json".into())]));
    s.checkpoints.push(cm);
    let report = assemble(&s, options());
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("tailor-checkpoint-x"))
    );
}

#[test]
fn json_shape_is_stable() {
    let report = assemble(&snapshot(), options());
    let value = serde_json::to_value(&report).expect("json");
    let app = &value["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["vpa"] == "web" && r["container"] == "app")
        .expect("app")
        .clone();
    assert_eq!(app["cpu"]["unit"], "millicores");
    assert_eq!(app["cpu"]["target"], 120);
    assert_eq!(app["cpu"]["savings"], 760);
    assert_eq!(app["memory"]["unit"], "bytes");
    assert_eq!(
        app["memory"]["request"],
        json!({"min": 134_217_728, "max": 536_870_912})
    );
    assert_eq!(app["flags"][0], json!({"flag": "low-confidence"}));
    assert_eq!(
        app["flags"][1],
        json!({"flag": "oom-killed", "pods": 1, "last_ms": NOW_MS - 600_000})
    );
    assert_eq!(value["totals"]["cpu"]["savings"], 760);
    assert_eq!(value["generated_ms"], NOW_MS);
}

#[test]
fn table_shows_per_replica_figures_totals_and_flags() {
    let report = assemble(&snapshot(), options());
    let text = crate::render::render_table(&report);
    println!("{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("NAMESPACE  WORKLOAD"));
    let app = lines
        .iter()
        .find(|l| l.contains("Deployment/web") && l.contains(" app ") && l.contains("InPlace"))
        .expect("app line");
    for cell in [
        "500m",
        "120m",
        "-76%",
        "760m",
        "128Mi..512Mi",
        "300Mi",
        "-6%",
        "40Mi",
        "oom-killed(1 pod, 10m ago)",
        "oom-floor(356Mi for 60m)",
        "under-provisioned:memory",
    ] {
        assert!(app.contains(cell), "{cell:?} missing from {app:?}");
    }
    // Every data line's RISK column starts where the header's does.
    let risk = lines[0].find("RISK").expect("RISK header");
    assert_eq!(app.find("low-confidence"), Some(risk));
    assert!(
        text.contains("CPU     requested 1  recommended 240m  savings 760m (76%)  increases 0m")
    );
}

#[test]
fn csv_has_a_header_and_one_line_per_row_with_base_units() {
    let report = assemble(&snapshot(), options());
    let text = crate::render::render_csv(&report);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1 + report.rows.len());
    let header: Vec<&str> = lines[0].split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).expect(name);
    let app = lines
        .iter()
        .find(|l| l.starts_with("shop,web,Deployment,web,app,"))
        .expect("app line");
    // The flags cell holds ", " and is the last column: split the rest on commas.
    let cells: Vec<&str> = app.split(',').collect();
    assert_eq!(cells[col("cpu_target_millicores")], "120");
    assert_eq!(cells[col("cpu_savings_millicores")], "760");
    assert_eq!(cells[col("memory_request_min_bytes")], "134217728");
    assert_eq!(cells[col("memory_savings_bytes")], "41943040");
    assert_eq!(cells[col("cpu_change_percent")], "-76");
    assert!(app.ends_with("\"low-confidence; oom-killed(1 pod, 10m ago); oom-floor(356Mi for 60m); restarts(3); under-provisioned:memory; cpu-throttled(23%); memory-limit-below-target\""));
}

proptest::proptest! {
    /// VPA status is written by whichever recommender serves the VPA: any text in its quantities must neither
    /// panic nor be misread; an unparsable target is no target.
    #[test]
    fn arbitrary_recommendation_quantities(cpu in "[0-9.a-zA-Z+-]{0,10}", memory in ".{0,10}") {
        let mut s = snapshot();
        s.vpas = vec![vpa(
            "web",
            "web",
            json!({}),
            json!({"recommendation": {"containerRecommendations": [
                {"containerName": "app", "target": {"cpu": cpu.clone(), "memory": memory.clone()}}]}}),
        )];
        let report = assemble(&s, options());
        let app = row(&report, "web", "app");
        proptest::prop_assert_eq!(app.cpu.target, MilliCpu::parse(&cpu).ok());
        proptest::prop_assert_eq!(app.memory.target, Bytes::parse(&memory).ok());
    }
}

/// The snapshot with `value` as the web VPA's memory-limits annotation.
fn with_memory_limits(value: &str) -> Snapshot {
    let mut s = snapshot();
    s.vpas[0].metadata.annotations = Some(BTreeMap::from([(
        MEMORY_LIMITS_ANNOTATION.to_owned(),
        value.to_owned(),
    )]));
    s
}

#[test]
fn recommended_memory_limit_is_shown_and_replaces_the_target_in_the_limit_check() {
    let report = assemble(&with_memory_limits("app=1Gi"), options());
    let app = row(&report, "web", "app");
    assert_eq!(app.memory.recommended_limit, Some(Bytes(1 << 30)));
    assert_eq!(app.cpu.recommended_limit, None);
    assert_eq!(
        app.memory.target,
        Some(Bytes(300 << 20)),
        "target unchanged"
    );
    assert!(app.flags.contains(&Flag::MemoryLimitBelowRecommendedLimit));
    assert!(
        !app.flags.contains(&Flag::MemoryLimitBelowTarget),
        "one limit flag, not two: {:?}",
        app.flags
    );
    let side = row(&report, "web", "side");
    assert_eq!(side.memory.recommended_limit, None, "not in the annotation");

    // 256Mi limits are below the 300Mi target but above a 200Mi recommended limit: no limit risk.
    let report = assemble(&with_memory_limits("app=200Mi"), options());
    let app = row(&report, "web", "app");
    assert_eq!(app.memory.recommended_limit, Some(Bytes(200 << 20)));
    assert!(!app.memory.limit_below_target);
    assert!(
        !app.flags.iter().any(|f| matches!(
            f,
            Flag::MemoryLimitBelowTarget | Flag::MemoryLimitBelowRecommendedLimit
        )),
        "{:?}",
        app.flags
    );
    assert!(report.warnings.iter().all(|w| !w.contains("memory-limits")));
}

#[test]
fn malformed_memory_limits_annotation_is_a_warning_and_ignored() {
    for value in ["app=lots", "app", "app=1Gi,app=2Gi", "App=1Gi", "app=0"] {
        let report = assemble(&with_memory_limits(value), options());
        let app = row(&report, "web", "app");
        assert_eq!(app.memory.recommended_limit, None, "{value}");
        assert!(
            app.flags.contains(&Flag::MemoryLimitBelowTarget),
            "{value}: back to the target"
        );
        assert!(
            report.warnings.iter().any(|w| w.starts_with("VPA shop/web: annotation tailor.dev/memory-limits ignored")),
            "{value}: {:?}",
            report.warnings
        );
    }
}

#[test]
fn recommended_memory_limit_in_json_table_and_csv() {
    let report = assemble(&with_memory_limits("app=1536Mi"), options());
    let value = serde_json::to_value(&report).expect("json");
    let app = value["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["vpa"] == "web" && r["container"] == "app")
        .expect("app")
        .clone();
    assert_eq!(app["memory"]["recommended_limit"], 1536_i64 << 20);
    assert_eq!(app["cpu"]["recommended_limit"], Value::Null);
    assert!(
        app["flags"]
            .as_array()
            .expect("flags")
            .contains(&json!({"flag": "memory-limit-below-recommended-limit"}))
    );

    let text = crate::render::render_table(&report);
    println!("{text}");
    let lines: Vec<&str> = text.lines().collect();
    let column = lines[0].find("MEM LIM REC").expect("column shown");
    assert!(lines[0].find("MEM REC").is_some_and(|c| c < column));
    let app_line = lines
        .iter()
        .find(|l| l.contains("Deployment/web") && l.contains(" app ") && l.contains("InPlace"))
        .expect("app line");
    assert_eq!(app_line.find("1.5Gi"), Some(column), "{app_line}");
    assert!(app_line.contains("memory-limit-below-recommended-limit"));
    let side_line = lines
        .iter()
        .find(|l| l.contains(" side "))
        .expect("side line");
    assert_eq!(side_line.get(column..column + 2), Some("- "), "{side_line}");

    let csv = crate::render::render_csv(&report);
    let lines: Vec<&str> = csv.lines().collect();
    let header: Vec<&str> = lines[0].split(',').collect();
    let col = header
        .iter()
        .position(|h| *h == "memory_recommended_limit_bytes")
        .expect("csv column");
    let app_line = lines
        .iter()
        .find(|l| l.starts_with("shop,web,Deployment,web,app,"))
        .expect("app line");
    assert_eq!(app_line.split(',').nth(col), Some("1610612736"));
}

#[test]
fn table_has_no_recommended_limit_column_without_the_annotation() {
    let report = assemble(&snapshot(), options());
    let text = crate::render::render_table(&report);
    assert!(!text.contains("MEM LIM REC"), "{text}");
    let csv = crate::render::render_csv(&report);
    let app_line = csv
        .lines()
        .find(|l| l.starts_with("shop,web,Deployment,web,app,"))
        .expect("app line");
    assert!(
        app_line.contains(",134217728,"),
        "memory request still in base units"
    );
}

proptest::proptest! {
    /// The annotation is written by whoever can patch the VPA: any text must neither panic nor be half read.
    /// The row shows exactly what the strict core parser accepts, and anything it rejects is a warning.
    #[test]
    fn arbitrary_memory_limits_annotation(value in "[a-z0-9=,. MGiKk-]{0,24}") {
        let report = assemble(&with_memory_limits(&value), options());
        let app = row(&report, "web", "app");
        let parsed = tailor_core::estimate::parse_memory_limits(&value);
        proptest::prop_assert_eq!(
            app.memory.recommended_limit,
            parsed.as_ref().ok().and_then(|l| l.get("app").copied())
        );
        proptest::prop_assert_eq!(
            report.warnings.iter().any(|w| w.contains(MEMORY_LIMITS_ANNOTATION)),
            parsed.is_err()
        );
    }
}
