//! tailor-recommender: not built yet (see README status table).

fn main() -> anyhow::Result<()> {
    anyhow::bail!("tailor-recommender is not implemented yet; see the README status table")
}
