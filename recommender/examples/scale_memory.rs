//! Memory probe: builds the 100 000-aggregate model of the scale benchmark and holds it, so
//! `/usr/bin/time -v` can read the peak resident set. `scale_memory 0` builds nothing (the baseline).
//! Run: `cargo build --release -p tailor-recommender --example scale_memory` then
//! `/usr/bin/time -v target/release/examples/scale_memory 20000` and `... scale_memory 0`.

#[path = "../benches/support/fixture.rs"]
mod fixture;

fn main() {
    let workloads: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let model = fixture::model(workloads, 5, 30);
    let pods = fixture::pods(workloads, 5, 500);
    println!("aggregates: {}, pods: {}", model.len(), pods.len());
    std::hint::black_box((&model, &pods));
}
