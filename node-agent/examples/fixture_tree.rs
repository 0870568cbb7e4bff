//! Writes a fake cgroup v2 tree with N containers (systemd driver, containerd naming, pods of two containers
//! plus a sandbox, QoS classes mixed) for trying the agent without a cluster:
//!
//! ```text
//! cargo run -p tailor-node-agent --example fixture_tree -- /dev/shm/tailor-tree 330
//! tailor-node-agent --standalone --cgroup-root /dev/shm/tailor-tree --admin-addr 127.0.0.1:9100
//! ```

use std::path::PathBuf;

use anyhow::Context as _;
use tailor_node_agent::discovery::{Driver, Qos};
use tailor_node_agent::fixture::{FixtureStats, FixtureTree, Runtime, container_id, pod_uid};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let root = PathBuf::from(
        args.next()
            .context("usage: fixture_tree DIR [CONTAINERS]")?,
    );
    let containers: u32 = args
        .next()
        .map_or(Ok(330), |n| n.parse())
        .context("CONTAINERS must be a number")?;
    let tree = FixtureTree::new(&root, Driver::Systemd, Runtime::Containerd)?;
    for p in 0..containers.div_ceil(2) {
        let qos = [Qos::Guaranteed, Qos::Burstable, Qos::BestEffort][(p % 3) as usize];
        let uid = pod_uid(p);
        tree.add_container(&uid, qos, &container_id(0x5a, p), &FixtureStats::default())?;
        for c in 0..2u8 {
            if p * 2 + u32::from(c) < containers {
                tree.add_container(
                    &uid,
                    qos,
                    &container_id(0xa0 + c, p),
                    &FixtureStats::default(),
                )?;
            }
        }
    }
    println!("wrote {containers} containers under {}", root.display());
    Ok(())
}
