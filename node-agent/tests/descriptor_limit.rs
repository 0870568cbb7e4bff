//! Keep-open mode under a low open-files limit: containers past the limit are read by re-opening their files
//! instead of being dropped. Its own test binary, since it lowers the process-wide limit.

use rustix::process::{Resource, getrlimit, setrlimit};
use tailor_core::report::ContainerRef;
use tailor_node_agent::cgroup::FileMode;
use tailor_node_agent::discovery::{Driver, Qos, Target};
use tailor_node_agent::fixture::{FixtureStats, FixtureTree, Runtime, container_id, pod_uid};
use tailor_node_agent::sampler::{Sampler, SamplerConfig};

const T0: i64 = 1_800_000_000_000;

fn open_descriptors() -> u64 {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64)
}

#[test]
fn containers_beyond_the_descriptor_limit_are_still_sampled() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let tree = FixtureTree::new(tmp.path(), Driver::Systemd, Runtime::Containerd).expect("tree");
    let targets: Vec<Target> = (0..6)
        .map(|n| {
            let (uid, id) = (pod_uid(n), container_id(0xa0, n));
            let dir = tree
                .add_container(&uid, Qos::BestEffort, &id, &FixtureStats::default())
                .expect("container");
            Target {
                container: ContainerRef {
                    namespace: "ns".into(),
                    pod: format!("p{n}"),
                    pod_uid: uid,
                    container: "app".into(),
                    container_id: id,
                },
                dir,
                qos: Qos::BestEffort,
                started_ms: None,
            }
        })
        .collect();
    let mut sampler = Sampler::new(SamplerConfig {
        file_mode: FileMode::KeepOpen,
        ..SamplerConfig::default()
    });
    // Room for three containers' nine files; keeping all six open would need 54 descriptors, so sampling all of
    // them proves the rest fell back to re-opening (one directory descriptor each).
    let mut limit = getrlimit(Resource::Nofile);
    limit.current = Some(open_descriptors() + 32);
    setrlimit(Resource::Nofile, limit).expect("lower the limit");
    assert_eq!(sampler.sync(targets, T0), 0, "no container is dropped");
    let out = sampler.sweep(T0, 0);
    assert_eq!((out.sampled, out.io_errors), (6, 0));
    assert_eq!(sampler.metrics().len(), 6);
}
