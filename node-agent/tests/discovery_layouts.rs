//! Discovery on fixture trees for every layout: systemd and cgroupfs drivers × containerd and CRI-O × each QoS
//! class, static pods (cgroup named after the config hash), sandboxes and CRI-O conmon scopes.

use std::collections::BTreeMap;
use std::path::PathBuf;

use tailor_node_agent::discovery::{Driver, Qos, resolve, walk};
use tailor_node_agent::fixture::{FixtureStats, FixtureTree, Runtime, container_id, pod_uid};
use tailor_node_agent::pods::{ContainerInfo, PodIndex, PodInfo};

fn pod(
    uid: &str,
    name: &str,
    qos: &str,
    containers: &[(&str, &str)],
    config_hash: Option<&str>,
) -> PodInfo {
    PodInfo {
        uid: uid.to_owned(),
        namespace: "team-a".to_owned(),
        name: name.to_owned(),
        config_hash: config_hash.map(str::to_owned),
        qos_class: Some(qos.to_owned()),
        containers: containers
            .iter()
            .map(|(n, id)| ContainerInfo {
                name: (*n).to_owned(),
                id: Some((*id).to_owned()),
                started_ms: Some(1_800_000_000_000),
                last_oom_killed_id: None,
                last_oom_killed_ms: None,
            })
            .collect(),
    }
}

/// Builds one node's worth of pods in `driver`/`runtime` layout and checks discovery finds exactly the
/// containers, each at the right directory, with sandboxes and conmon left out.
fn check_layout(driver: Driver, runtime: Runtime) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let tree = FixtureTree::new(tmp.path(), driver, runtime).expect("tree");
    let stats = FixtureStats::default();
    let mut index = PodIndex::default();
    let mut want: BTreeMap<String, (String, PathBuf, Qos)> = BTreeMap::new();

    let cases = [
        (Qos::Guaranteed, "Guaranteed", 1u32),
        (Qos::Burstable, "Burstable", 2),
        (Qos::BestEffort, "BestEffort", 3),
    ];
    for (qos, qos_name, n) in cases {
        let uid = pod_uid(n);
        let app = container_id(0xa0, n);
        let side = container_id(0xb0, n);
        let sandbox = container_id(0x5a, n);
        for id in [&app, &side, &sandbox] {
            tree.add_container(&uid, qos, id, &stats)
                .expect("container");
        }
        if runtime == Runtime::Crio {
            tree.add_conmon(&uid, qos, &app).expect("conmon");
        }
        index.apply(pod(
            &uid,
            &format!("web-{n}"),
            qos_name,
            &[("app", &app), ("sidecar", &side)],
            None,
        ));
        want.insert(
            app.clone(),
            ("app".to_owned(), tree.container_dir(&uid, qos, &app), qos),
        );
        want.insert(
            side.clone(),
            (
                "sidecar".to_owned(),
                tree.container_dir(&uid, qos, &side),
                qos,
            ),
        );
    }

    // A static pod: its cgroup carries the 32-hex config hash; the API mirror pod has another UID.
    let hash = "d76e26fba3bf2bfd215eb29011d55250";
    let etcd = container_id(0xe7, 9);
    tree.add_container(hash, Qos::Burstable, &etcd, &stats)
        .expect("static container");
    tree.add_container(hash, Qos::Burstable, &container_id(0x5a, 9), &stats)
        .expect("static sandbox");
    index.apply(pod(
        "mirror-uid-1234",
        "etcd-node-a",
        "Burstable",
        &[("etcd", &etcd)],
        Some(hash),
    ));
    want.insert(
        etcd.clone(),
        (
            "etcd".to_owned(),
            tree.container_dir(hash, Qos::Burstable, &etcd),
            Qos::Burstable,
        ),
    );

    let found = walk(tmp.path()).expect("walk");
    assert_eq!(found.driver, driver);
    // 3 pods × 3 leaves + static pod's 2; conmon scopes are never listed.
    assert_eq!(
        found.cgroups.len(),
        11,
        "{driver:?}/{runtime:?}: {:?}",
        found.cgroups.keys()
    );

    let res = resolve(&found, &index);
    assert_eq!(res.unmatched, 4, "the four sandboxes");
    assert_eq!(res.uid_mismatch, 0);
    let got: BTreeMap<String, (String, PathBuf, Qos)> = res
        .targets
        .iter()
        .map(|t| {
            (
                t.container.container_id.clone(),
                (t.container.container.clone(), t.dir.clone(), t.qos),
            )
        })
        .collect();
    assert_eq!(got, want, "{driver:?}/{runtime:?}");
    let etcd_target = res
        .targets
        .iter()
        .find(|t| t.container.container == "etcd")
        .expect("static pod found");
    assert_eq!(
        etcd_target.container.pod_uid, "mirror-uid-1234",
        "reports carry the API pod's UID"
    );
    assert_eq!(etcd_target.container.pod, "etcd-node-a");
}

#[test]
fn systemd_containerd() {
    check_layout(Driver::Systemd, Runtime::Containerd);
}

#[test]
fn systemd_crio() {
    check_layout(Driver::Systemd, Runtime::Crio);
}

#[test]
fn cgroupfs_containerd() {
    check_layout(Driver::Cgroupfs, Runtime::Containerd);
}

#[test]
fn cgroupfs_crio() {
    check_layout(Driver::Cgroupfs, Runtime::Crio);
}

#[test]
fn container_under_a_foreign_pod_directory_is_not_reported() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let tree = FixtureTree::new(tmp.path(), Driver::Systemd, Runtime::Containerd).expect("tree");
    let id = container_id(0xa0, 1);
    tree.add_container(&pod_uid(1), Qos::Burstable, &id, &FixtureStats::default())
        .expect("container");
    let mut index = PodIndex::default();
    index.apply(pod(
        &pod_uid(2),
        "other",
        "Burstable",
        &[("app", &id)],
        None,
    ));
    let res = resolve(&walk(tmp.path()).expect("walk"), &index);
    assert!(res.targets.is_empty());
    assert_eq!(res.uid_mismatch, 1);
}

#[test]
fn missing_kubepods_is_a_clear_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let err = walk(tmp.path()).expect_err("no kubepods");
    assert!(err.to_string().contains("--cgroup-root"), "{err}");
}

#[test]
fn both_drivers_present_prefers_systemd() {
    let tmp = tempfile::tempdir().expect("tempdir");
    FixtureTree::new(tmp.path(), Driver::Cgroupfs, Runtime::Containerd).expect("cgroupfs tree");
    FixtureTree::new(tmp.path(), Driver::Systemd, Runtime::Containerd).expect("systemd tree");
    assert_eq!(walk(tmp.path()).expect("walk").driver, Driver::Systemd);
}
