use serde_json::json;
use tailor_core::plan::{ContainerChange, ContainerKind, ResizePlan, Resource};

use super::fixtures::pod;
use crate::convert::pod::pod_view;
use crate::patch::{describe, resize_patch};

#[test]
fn the_resize_patch_names_containers_and_carries_only_changed_cpu_and_memory() {
    let view = pod_view(&pod("p", "500m", "1"), "k".to_owned());
    let before = view.containers[0].spec;
    let mut after = before;
    after.requests.set(Resource::Cpu, Some(250));
    after.limits.set(Resource::Cpu, Some(500));
    let plan = ResizePlan {
        containers: vec![ContainerChange {
            name: "app".to_owned(),
            before,
            after,
        }],
        disruptive: false,
        partial: false,
    };
    assert_eq!(
        resize_patch(&view, &plan),
        Some(json!({"spec": {"containers": [
            {"name": "app", "resources": {"requests": {"cpu": "250m"}, "limits": {"cpu": "500m"}}}
        ]}}))
    );
    assert_eq!(describe(&plan), "app: cpu 500m/1 -> 250m/500m");
}

#[test]
fn sidecars_go_to_init_containers_and_init_containers_are_never_sent() {
    let mut view = pod_view(&pod("p", "500m", "1"), "k".to_owned());
    let mut side = view.containers[0].clone();
    side.name = "side".to_owned();
    side.kind = ContainerKind::Sidecar;
    let mut init = side.clone();
    init.name = "init".to_owned();
    init.kind = ContainerKind::Init;
    view.containers.extend([side, init]);
    let change = |name: &str| {
        let before = view.containers[0].spec;
        let mut after = before;
        after
            .requests
            .set(Resource::Memory, Some(300 * 1024 * 1024));
        ContainerChange {
            name: name.to_owned(),
            before,
            after,
        }
    };
    let plan = ResizePlan {
        containers: vec![change("side"), change("init")],
        disruptive: false,
        partial: false,
    };
    assert_eq!(
        resize_patch(&view, &plan),
        Some(
            json!({"spec": {"initContainers": [{"name": "side", "resources": {"requests": {"memory": "300Mi"}}}]}})
        )
    );
    let plan = ResizePlan {
        containers: vec![change("init")],
        disruptive: false,
        partial: false,
    };
    assert_eq!(resize_patch(&view, &plan), None);
}
