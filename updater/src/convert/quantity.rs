//! Kubernetes quantities from API objects to the core's integers. A value that does not parse is treated as
//! absent and logged: one bad field must not stop the updater, and absent is the conservative reading.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use tailor_core::plan::ResourceValues;
use tailor_core::quantity::{Bytes, MilliCpu};

/// CPU and memory of a resource list; other resources are ignored.
pub fn values(list: Option<&BTreeMap<String, Quantity>>) -> ResourceValues {
    let Some(list) = list else {
        return ResourceValues::default();
    };
    ResourceValues {
        cpu: list
            .get("cpu")
            .and_then(|q| parse_or_log(&q.0, MilliCpu::parse_non_negative)),
        memory: list
            .get("memory")
            .and_then(|q| parse_or_log(&q.0, Bytes::parse_non_negative)),
    }
}

fn parse_or_log<T, E: std::fmt::Display>(
    s: &str,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Option<T> {
    match parse(s) {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::warn!(quantity = s, error = %e, "ignoring a quantity that does not parse");
            None
        }
    }
}
