//! Running one test against the whole pipeline (`tailor-demo`'s [`Stack`]): start it in a temporary folder, run
//! the test, print the components' log tails if it failed, and stop everything gracefully either way.

use std::time::Instant;

use anyhow::Result;
use tailor_demo::stack::{Stack, StackOptions};

/// Runs `test` with the started stack and the instant the stack began starting.
pub async fn with_stack(
    options: &StackOptions,
    test: impl AsyncFnOnce(&mut Stack, Instant) -> Result<()>,
) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let started = Instant::now();
    let mut stack = Stack::start(options, dir.path(), |_| {}).await?;
    let result = test(&mut stack, started).await;
    if result.is_err() {
        eprintln!("component logs:{}", stack.log_tails(40));
    }
    stack.stop().await?;
    result
}
