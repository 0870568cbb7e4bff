//! tailor-node-agent: not built yet (see README status table).

fn main() -> anyhow::Result<()> {
    anyhow::bail!("tailor-node-agent is not implemented yet; see the README status table")
}
