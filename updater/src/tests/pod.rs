use proptest::prelude::*;
use serde_json::json;
use tailor_core::plan::{
    ContainerKind, ForeignWriter, PendingReason, PodPhase, QosClass, Resource, RestartPolicy,
    TerminationReason,
};

use super::fixtures::{pod, pod_json};
use crate::convert::pod::pod_view;

#[test]
fn a_running_pod_converts_field_for_field() {
    let v = pod_view(&pod("p", "500m", "1"), "ns/Deployment/web".to_owned());
    assert_eq!(
        (v.namespace.as_str(), v.name.as_str(), v.node.as_deref()),
        ("ns", "p", Some("n1"))
    );
    assert_eq!(
        (v.phase, v.qos, v.ready),
        (PodPhase::Running, QosClass::Burstable, true)
    );
    let c = &v.containers[0];
    assert_eq!(c.kind, ContainerKind::App);
    assert_eq!(c.spec.requests.get(Resource::Cpu), Some(500));
    assert_eq!(c.spec.limits.get(Resource::Cpu), Some(1000));
    assert_eq!(
        c.spec.requests.get(Resource::Memory),
        Some(256 * 1024 * 1024)
    );
    assert_eq!(
        c.actual.map(|a| a.limits.get(Resource::Memory)),
        Some(Some(512 * 1024 * 1024))
    );
    assert_eq!(
        (c.resize_policy.cpu, c.resize_policy.memory),
        (RestartPolicy::NotRequired, RestartPolicy::RestartContainer)
    );
    assert!(c.running && c.ready && c.started_at.is_some());
    assert_eq!(
        v.ready_since.map(|t| t.unix_millis()),
        Some(1_767_225_610_000)
    );
}

#[test]
fn resize_conditions_oom_sidecars_and_ownership_are_read() {
    let mut j = pod_json("p", "500m", "1");
    j["status"]["conditions"] = json!([
        {"type": "PodResizePending", "status": "True", "reason": "Infeasible", "message": "too big", "lastTransitionTime": "2026-01-01T00:01:00Z"},
        {"type": "PodResizeInProgress", "status": "True", "reason": "Error", "message": "boom", "lastTransitionTime": "2026-01-01T00:02:00Z"}
    ]);
    j["status"]["containerStatuses"][0]["lastState"] = json!({"terminated": {"exitCode": 137, "reason": "OOMKilled", "finishedAt": "2026-01-01T00:03:00Z"}});
    j["spec"]["initContainers"] = json!([
        {"name": "side", "image": "x", "restartPolicy": "Always", "resources": {"requests": {"cpu": "100m"}}},
        {"name": "init", "image": "x", "resources": {"requests": {"cpu": "100m"}}}
    ]);
    j["metadata"]["annotations"] =
        json!({"kubernetes.io/config.mirror": "x", "vpaCpuStartupBoost/app": "{}"});
    j["spec"]["os"] = json!({"name": "windows"});
    let v = pod_view(&serde_json::from_value(j).expect("pod"), "k".to_owned());
    let pending = v.pending.as_ref().expect("pending");
    assert_eq!(
        (pending.reason, pending.message.as_str()),
        (PendingReason::Infeasible, "too big")
    );
    assert!(v.in_progress.as_ref().is_some_and(|p| p.error));
    assert!(!v.ready);
    let kinds: Vec<_> = v
        .containers
        .iter()
        .map(|c| (c.name.as_str(), c.kind))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("side", ContainerKind::Sidecar),
            ("init", ContainerKind::Init),
            ("app", ContainerKind::App)
        ]
    );
    assert_eq!(
        v.containers[2].last_termination.map(|t| t.reason),
        Some(TerminationReason::OomKilled)
    );
    assert!(v.static_or_mirror && v.windows);
    assert_eq!(v.foreign_writer, Some(ForeignWriter::VpaStartupBoost));
}

#[test]
fn a_boost_record_annotation_is_parsed_and_garbage_ignored() {
    let mut j = pod_json("p", "500m", "1");
    j["metadata"]["annotations"] =
        json!({"tailor.dev/boost-state": "v1;active=1;since=5;c=app:0:500m:1000m"});
    let v = pod_view(
        &serde_json::from_value(j.clone()).expect("pod"),
        "k".to_owned(),
    );
    assert!(
        v.boost
            .as_ref()
            .is_some_and(|b| b.active && b.containers.len() == 1)
    );
    j["metadata"]["annotations"] = json!({"tailor.dev/boost-state": "nonsense"});
    let v = pod_view(&serde_json::from_value(j).expect("pod"), "k".to_owned());
    assert!(v.boost.is_none());
}

proptest! {
    #[test]
    fn any_quantity_string_converts_without_panicking(cpu in ".{0,12}", mem in ".{0,12}") {
        let mut j = pod_json("p", "1", "2");
        j["spec"]["containers"][0]["resources"]["requests"] = json!({"cpu": cpu, "memory": mem});
        if let Ok(p) = serde_json::from_value(j) {
            let _ = pod_view(&p, "k".to_owned());
        }
    }
}
