//! Restart-safe history: one ConfigMap per workload in the recommender's own namespace, one data key per
//! container holding core's compact aggregate checkpoint as JSON.
//!
//! Why ConfigMaps and not a CRD of our own: history is keyed by workload (not by VPA object or recommender
//! name), a workload's few containers fit easily in one object (~1–3 KiB each against the 1 MiB limit), no
//! extra CRD has to be installed before the recommender can start, and the RBAC stays a namespaced Role on
//! ConfigMaps in Tailor's own namespace, instead of write access to objects in every namespace.

use std::collections::BTreeMap;

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, Client};
use serde::{Deserialize, Serialize};
use tailor_core::model::{AggregateCheckpoint, ContainerKey, OpenWindow, WorkloadKey};
use tailor_core::time::Timestamp;
use tailor_k8s::retry::{Backoff, is_retryable, retry};

use crate::metrics::Metrics;
use crate::model::Tracked;

/// Label on every checkpoint ConfigMap (value: the format version).
pub const LABEL: &str = "tailor.dev/checkpoint";
/// Annotation naming the workload (`namespace/Kind/name`), for people reading the ConfigMap.
pub const WORKLOAD_ANNOTATION: &str = "tailor.dev/workload";
/// Format version of the stored JSON.
pub const FORMAT_VERSION: u32 = 1;
const FIELD_MANAGER: &str = "tailor-recommender";

/// One container's stored history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredContainer {
    /// [`FORMAT_VERSION`].
    pub version: u32,
    /// The workload.
    pub workload: WorkloadKey,
    /// The container name.
    pub container: String,
    /// When it was written (unix ms).
    pub written_ms: i64,
    /// The aggregate.
    pub aggregate: AggregateCheckpoint,
}

/// The memory windows of one container's pods still open when the checkpoint was written. Kept under their own
/// data key (readers of the aggregates alone, like `tailor report`, need not know them): restored with the
/// aggregate, they let a pod that keeps reporting after a restart replace its window's peak instead of adding a
/// second one, while the peak seen before the restart stays.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredWindows {
    /// [`FORMAT_VERSION`].
    pub version: u32,
    /// The workload.
    pub workload: WorkloadKey,
    /// The container name.
    pub container: String,
    /// When it was written (unix ms).
    pub written_ms: i64,
    /// Open window per pod UID.
    pub pods: BTreeMap<String, OpenWindow>,
}

/// Open memory windows by pod UID.
pub type PodWindows = BTreeMap<String, OpenWindow>;

/// Data key suffix of a container's aggregate.
pub const AGGREGATE_SUFFIX: &str = ".json";
/// Data key suffix of a container's open windows.
pub const WINDOWS_SUFFIX: &str = ".windows";

/// A checkpoint entry that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// Not JSON of the expected shape.
    #[error("checkpoint {configmap}/{key} does not parse")]
    Parse {
        /// ConfigMap name.
        configmap: String,
        /// Data key.
        key: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// Written by a newer format.
    #[error("checkpoint {configmap}/{key} has format version {found}")]
    Version {
        /// ConfigMap name.
        configmap: String,
        /// Data key.
        key: String,
        /// The version found.
        found: u32,
    },
}

/// FNV-1a: a stable hash (the standard library's is randomly seeded), for object names.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The ConfigMap name for a workload: stable, DNS-safe, short.
pub fn configmap_name(workload: &WorkloadKey) -> String {
    format!("tailor-checkpoint-{:016x}", fnv1a(&workload.to_string()))
}

/// The ConfigMap holding `containers` of `workload`.
pub fn to_configmap(
    namespace: &str,
    workload: &WorkloadKey,
    containers: &BTreeMap<String, Tracked>,
    now: Timestamp,
) -> Result<ConfigMap, serde_json::Error> {
    let mut data = BTreeMap::new();
    for (name, tracked) in containers {
        let stored = StoredContainer {
            version: FORMAT_VERSION,
            workload: workload.clone(),
            container: name.clone(),
            written_ms: now.unix_millis(),
            aggregate: tracked.steady.to_checkpoint(),
        };
        data.insert(
            format!("{name}{AGGREGATE_SUFFIX}"),
            serde_json::to_string(&stored)?,
        );
        let pods = tracked.open_windows(now);
        if !pods.is_empty() {
            let windows = StoredWindows {
                version: FORMAT_VERSION,
                workload: workload.clone(),
                container: name.clone(),
                written_ms: now.unix_millis(),
                pods,
            };
            data.insert(
                format!("{name}{WINDOWS_SUFFIX}"),
                serde_json::to_string(&windows)?,
            );
        }
    }
    Ok(ConfigMap {
        metadata: ObjectMeta {
            name: Some(configmap_name(workload)),
            namespace: Some(namespace.to_owned()),
            labels: Some(BTreeMap::from([
                (LABEL.to_owned(), FORMAT_VERSION.to_string()),
                (
                    "app.kubernetes.io/managed-by".to_owned(),
                    FIELD_MANAGER.to_owned(),
                ),
            ])),
            annotations: Some(BTreeMap::from([(
                WORKLOAD_ANNOTATION.to_owned(),
                workload.to_string(),
            )])),
            ..ObjectMeta::default()
        },
        data: Some(data),
        ..ConfigMap::default()
    })
}

/// The data entries of `cm` whose key ends in `suffix`, parsed, with their format version checked.
fn entries<T: serde::de::DeserializeOwned>(
    cm: &ConfigMap,
    suffix: &str,
    version: impl Fn(&T) -> u32,
) -> Vec<Result<T, CheckpointError>> {
    let configmap = cm.metadata.name.clone().unwrap_or_default();
    cm.data
        .iter()
        .flatten()
        .filter(|(key, _)| key.ends_with(suffix))
        .map(|(key, value)| {
            let stored: T =
                serde_json::from_str(value).map_err(|source| CheckpointError::Parse {
                    configmap: configmap.clone(),
                    key: key.clone(),
                    source,
                })?;
            let found = version(&stored);
            if found != FORMAT_VERSION {
                return Err(CheckpointError::Version {
                    configmap: configmap.clone(),
                    key: key.clone(),
                    found,
                });
            }
            Ok(stored)
        })
        .collect()
}

/// The aggregates of a checkpoint ConfigMap.
pub fn from_configmap(
    cm: &ConfigMap,
) -> Vec<Result<(ContainerKey, AggregateCheckpoint), CheckpointError>> {
    entries(cm, AGGREGATE_SUFFIX, |s: &StoredContainer| s.version)
        .into_iter()
        .map(|e| e.map(|s| (ContainerKey::new(s.workload, s.container), s.aggregate)))
        .collect()
}

/// The open memory windows of a checkpoint ConfigMap, per container.
pub fn windows_from_configmap(
    cm: &ConfigMap,
) -> Vec<Result<(ContainerKey, PodWindows), CheckpointError>> {
    entries(cm, WINDOWS_SUFFIX, |s: &StoredWindows| s.version)
        .into_iter()
        .map(|e| e.map(|s| (ContainerKey::new(s.workload, s.container), s.pods)))
        .collect()
}

/// Lists every checkpoint ConfigMap in `namespace`.
pub async fn load_all(client: &Client, namespace: &str) -> Result<Vec<ConfigMap>, kube::Error> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let params = ListParams::default().labels(LABEL);
    let list = retry(&Backoff::default(), is_retryable, || api.list(&params)).await?;
    Ok(list.items)
}

/// Reads one workload's checkpoint, if it exists.
pub async fn load_one(
    client: &Client,
    namespace: &str,
    workload: &WorkloadKey,
) -> Result<Option<ConfigMap>, kube::Error> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let name = configmap_name(workload);
    retry(&Backoff::default(), is_retryable, || api.get_opt(&name)).await
}

/// Writes ConfigMaps by server-side apply, `concurrency` at a time. Returns the workloads whose write failed.
pub async fn write_all(
    client: &Client,
    namespace: &str,
    items: Vec<(WorkloadKey, ConfigMap)>,
    concurrency: usize,
    metrics: &Metrics,
) -> Vec<WorkloadKey> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let params = PatchParams::apply(FIELD_MANAGER).force();
    futures::stream::iter(items)
        .map(|(workload, cm)| {
            let (api, params) = (&api, &params);
            async move {
                let name = cm.metadata.name.clone().unwrap_or_default();
                let patch = Patch::Apply(&cm);
                let result = retry(&Backoff::default(), is_retryable, || {
                    api.patch(&name, params, &patch)
                })
                .await;
                Metrics::write(&metrics.checkpoint_writes, result.is_ok());
                match result {
                    Ok(_) => None,
                    Err(error) => {
                        tracing::warn!(%workload, %error, "writing checkpoint");
                        Some(workload)
                    }
                }
            }
        })
        .buffer_unordered(concurrency.max(1))
        .filter_map(std::future::ready)
        .collect()
        .await
}

#[cfg(test)]
mod tests {
    use tailor_core::model::WorkloadKind;

    use super::*;
    use crate::model::{Model, ModelOptions};

    #[test]
    fn names_are_stable_and_dns_safe() {
        let w = WorkloadKey::new("shop", WorkloadKind::Deployment, "Web_App");
        let name = configmap_name(&w);
        assert_eq!(name, configmap_name(&w.clone()));
        assert!(
            name.len() <= 63
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        );
        assert_ne!(
            name,
            configmap_name(&WorkloadKey::new(
                "shop",
                WorkloadKind::StatefulSet,
                "Web_App"
            ))
        );
    }

    #[test]
    fn round_trips_through_a_configmap() {
        let w = WorkloadKey::new("shop", WorkloadKind::Deployment, "web");
        let mut model = Model::new(ModelOptions::default());
        let now = Timestamp::from_unix_millis(1_800_000_000_000);
        model
            .restore(
                ContainerKey::new(w.clone(), "app"),
                {
                    let cfg = tailor_core::model::AggregateConfig::default();
                    let mut agg = tailor_core::model::AggregateState::new(&cfg, now);
                    agg.add_cpu_sample(
                        &cfg,
                        tailor_core::model::CpuSample {
                            start: now,
                            usage: tailor_core::quantity::MilliCpu(300),
                        },
                    );
                    agg
                },
                now,
            )
            .expect("restore");
        let cm = to_configmap("tailor", &w, model.containers_of(&w).expect("tracked"), now)
            .expect("serialize");
        assert_eq!(cm.metadata.name, Some(configmap_name(&w)));
        let entries = from_configmap(&cm);
        assert_eq!(entries.len(), 1);
        let (key, agg) = entries.into_iter().next().expect("one").expect("parses");
        assert_eq!(key, ContainerKey::new(w, "app"));
        assert_eq!(agg.total_samples, 1);
    }

    #[test]
    fn open_windows_travel_under_their_own_key() {
        let w = WorkloadKey::new("shop", WorkloadKind::Deployment, "web");
        let key = ContainerKey::new(w.clone(), "app");
        let now = Timestamp::from_unix_millis(1_800_000_000_000);
        let mut model = Model::new(ModelOptions::default());
        let report = tailor_core::report::ContainerReport {
            container: tailor_core::report::ContainerRef {
                namespace: "shop".into(),
                pod: "web-1".into(),
                pod_uid: "uid-1".into(),
                container: "app".into(),
                container_id: "c1".into(),
            },
            interval_start_ms: now.unix_millis() - 10_000,
            interval_end_ms: now.unix_millis(),
            samples: 10,
            startup: false,
            started_ms: None,
            cpu: tailor_core::report::CpuSummary::default(),
            memory: tailor_core::report::MemorySummary {
                working_set_peak_bytes: 300 << 20,
                ..tailor_core::report::MemorySummary::default()
            },
        };
        assert!(model.apply_container(key.clone(), &report, now));
        let cm = to_configmap("tailor", &w, model.containers_of(&w).expect("tracked"), now)
            .expect("serialize");
        let data = cm.data.as_ref().expect("data");
        assert!(data.contains_key("app.json") && data.contains_key("app.windows"));
        assert_eq!(
            from_configmap(&cm).len(),
            1,
            "aggregate readers see aggregates only"
        );
        let windows = windows_from_configmap(&cm);
        let [Ok((k, pods))] = windows.as_slice() else {
            panic!("one windows entry: {windows:?}");
        };
        assert_eq!(k, &key);
        let window = pods.get("uid-1").expect("pod window");
        assert_eq!(window.memory_peak, tailor_core::quantity::Bytes(300 << 20));
    }

    #[test]
    fn bad_entries_are_reported_not_fatal() {
        let cm = ConfigMap {
            metadata: ObjectMeta {
                name: Some("x".into()),
                ..ObjectMeta::default()
            },
            data: Some(BTreeMap::from([("app.json".to_owned(), "{".to_owned())])),
            ..ConfigMap::default()
        };
        assert!(matches!(
            from_configmap(&cm).as_slice(),
            [Err(CheckpointError::Parse { .. })]
        ));
    }
}
