//! Any bytes as a stored aggregate: restoring never panics, and a restored aggregate answers percentiles.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tailor_core::estimate::{EstimatorConfig, recommend};
use tailor_core::model::{AggregateCheckpoint, AggregateConfig, AggregateState};
use tailor_core::time::Timestamp;

fuzz_target!(|data: &[u8]| {
    let Ok(cp) = serde_json::from_slice::<AggregateCheckpoint>(data) else { return };
    if let Ok(agg) = AggregateState::from_checkpoint(&AggregateConfig::default(), &cp) {
        let rec = recommend(&agg, &EstimatorConfig::default(), 1, Timestamp::EPOCH);
        assert!(rec.lower_bound.cpu.get() >= 0 && rec.upper_bound.memory.get() >= 0);
    }
});
