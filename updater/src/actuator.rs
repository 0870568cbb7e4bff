//! The actuator: carries a planner decision out against the API. One strategic-merge patch to
//! `pods/{name}/resize` per pod, the boost record in a separate pod patch, the Eviction API for the recreate
//! modes, an event on the pod and the VPA for every outcome, retries with backoff on transient errors. In
//! dry-run mode nothing is written to pods: it logs, emits "Would…" events and counts what it would do.

use k8s_openapi::api::core::v1::{ObjectReference, Pod};
use kube::api::{EvictParams, Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Api, Client};
use tailor_core::plan::{Decision, PodView, ResizePlan};
use tailor_k8s::retry::{Backoff, is_retryable, retry};

use crate::convert::state::{STATE_ANNOTATION, format_state};
use crate::metrics::{Metrics, OutcomeLabels, WouldLabels};
use crate::patch::{boost_record_patch, describe, resize_patch};
use tailor_core::plan::PodMemory;

/// Field manager name on every write.
pub const FIELD_MANAGER: &str = "tailor-updater";

/// What happened to a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// The resize was accepted; `generation` is the pod's generation in the response.
    Resized {
        generation: Option<i64>,
    },
    Evicted,
    /// Dry run: logged and counted only.
    DryRun,
    /// Nothing to write for this decision.
    Nothing,
    /// The write failed; the planner will see the pod again next pass.
    Failed,
    /// The API server refused the resize as larger than the node (403, cause `NodeCapacity`, Kubernetes
    /// 1.36+ `PodResizeValidator`): as final as a kubelet `Infeasible`.
    NodeCapacity,
}

/// The objects a decision is about.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub pod: &'a Pod,
    pub view: &'a PodView,
    pub vpa: Option<&'a ObjectReference>,
}

/// Sends decisions to the API.
#[derive(Clone)]
pub struct Actuator {
    client: Client,
    recorder: Recorder,
    metrics: Metrics,
    backoff: Backoff,
    dry_run: bool,
    evictions_enabled: bool,
}

impl std::fmt::Debug for Actuator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Actuator")
            .field("dry_run", &self.dry_run)
            .finish_non_exhaustive()
    }
}

fn action(d: &Decision) -> &'static str {
    match d {
        Decision::Resize { .. } | Decision::Split { .. } => "resize",
        Decision::Revert { .. } => "revert",
        Decision::Boost { .. } => "boost",
        Decision::Unboost { .. } => "unboost",
        Decision::Evict(_) => "evict",
        Decision::Skip(_) | Decision::Wait { .. } => "none",
    }
}

fn event_reason(d: &Decision, dry_run: bool) -> &'static str {
    match (d, dry_run) {
        (Decision::Resize { .. } | Decision::Split { .. }, false) => "ResizedByTailor",
        (Decision::Resize { .. } | Decision::Split { .. }, true) => "WouldResize",
        (Decision::Revert { .. }, false) => "ResizeReverted",
        (Decision::Revert { .. }, true) => "WouldRevert",
        (Decision::Boost { .. }, false) => "StartupBoosted",
        (Decision::Boost { .. }, true) => "WouldBoost",
        (Decision::Unboost { .. }, false) => "StartupUnboosted",
        (Decision::Unboost { .. }, true) => "WouldUnboost",
        (Decision::Evict(_), false) => "EvictedByTailor",
        (Decision::Evict(_), true) => "WouldEvict",
        _ => "Planned",
    }
}

impl Actuator {
    pub fn new(
        client: Client,
        metrics: Metrics,
        identity: String,
        dry_run: bool,
        evictions_enabled: bool,
    ) -> Self {
        let reporter = Reporter {
            controller: FIELD_MANAGER.to_owned(),
            instance: Some(identity),
        };
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            metrics,
            backoff: Backoff::default(),
            dry_run,
            evictions_enabled,
        }
    }

    /// Carries out one decision.
    pub async fn execute(&self, t: Target<'_>, d: &Decision) -> Applied {
        let act = action(d);
        if act == "none" {
            return Applied::Nothing;
        }
        let summary = d.plan().map(describe).unwrap_or_default();
        let note = format!("{} ({}): {summary}", d.kind(), d.reason());
        let (ns, name) = (t.view.namespace.as_str(), t.view.name.as_str());
        if self.dry_run {
            tracing::info!(namespace = ns, pod = name, action = act, reason = d.reason(), change = %summary, "dry run: would act");
            self.metrics
                .would_resize
                .get_or_create(&WouldLabels { action: act })
                .inc();
            self.event(t, EventType::Normal, event_reason(d, true), &note)
                .await;
            return Applied::DryRun;
        }
        let api: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        let result = match d {
            Decision::Evict(_) if !self.evictions_enabled => {
                tracing::warn!(
                    namespace = ns,
                    pod = name,
                    "eviction planned but evictions are disabled"
                );
                Err((
                    "blocked",
                    "evictions are disabled (--enable-eviction)".to_owned(),
                ))
            }
            Decision::Evict(_) => self.evict(&api, name).await.map(|()| Applied::Evicted),
            _ => self.resize(&api, t.view, d).await,
        };
        match result {
            Ok(applied) => {
                self.count(act, "applied");
                tracing::info!(namespace = ns, pod = name, action = act, reason = d.reason(), change = %summary, "applied");
                self.event(t, EventType::Normal, event_reason(d, false), &note)
                    .await;
                applied
            }
            Err((outcome, message)) => {
                self.count(act, outcome);
                let applied = if outcome == "infeasible" {
                    Applied::NodeCapacity
                } else {
                    Applied::Failed
                };
                tracing::warn!(namespace = ns, pod = name, action = act, outcome, error = %message, "write failed");
                self.event(
                    t,
                    EventType::Warning,
                    "TailorActionFailed",
                    &format!("{note}: {outcome}: {message}"),
                )
                .await;
                applied
            }
        }
    }

    async fn resize(
        &self,
        api: &Api<Pod>,
        view: &PodView,
        d: &Decision,
    ) -> Result<Applied, (&'static str, String)> {
        let plan: Option<&ResizePlan> = d.plan();
        let mut generation = None;
        if let Some(body) = plan.and_then(|p| resize_patch(view, p)) {
            let pp = PatchParams {
                field_manager: Some(FIELD_MANAGER.to_owned()),
                ..PatchParams::default()
            };
            let patch = Patch::Strategic(&body);
            let pod = retry(&self.backoff, is_retryable, || {
                api.patch_resize(&view.name, &pp, &patch)
            })
            .await
            .map_err(classify)?;
            generation = pod.metadata.generation;
        }
        let record = match d {
            Decision::Boost { record, .. } | Decision::Unboost { record, .. } => Some(record),
            _ => None,
        };
        if let Some(record) = record {
            let pp = PatchParams {
                field_manager: Some(FIELD_MANAGER.to_owned()),
                ..PatchParams::default()
            };
            let body = boost_record_patch(record);
            let patch = Patch::Merge(&body);
            retry(&self.backoff, is_retryable, || {
                api.patch(&view.name, &pp, &patch)
            })
            .await
            .map_err(classify)?;
        }
        Ok(Applied::Resized { generation })
    }

    async fn evict(&self, api: &Api<Pod>, name: &str) -> Result<(), (&'static str, String)> {
        let params = EvictParams::default();
        retry(
            &self.backoff,
            |e: &kube::Error| is_retryable(e) && !is_pdb_block(e),
            || api.evict(name, &params),
        )
        .await
        .map(|_| ())
        .map_err(|e| {
            if is_pdb_block(&e) {
                ("blocked", e.to_string())
            } else {
                classify(e)
            }
        })
    }

    /// Writes the planner's memory of a pod into its `tailor.dev/resize-state` annotation (a merge patch of
    /// metadata only, so the pod's generation does not move). Failures are logged: the in-memory copy still
    /// holds, only a restart would lose it.
    pub async fn save_state(&self, namespace: &str, name: &str, memory: &PodMemory) {
        if self.dry_run {
            return;
        }
        let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let pp = PatchParams {
            field_manager: Some(FIELD_MANAGER.to_owned()),
            ..PatchParams::default()
        };
        let body = serde_json::json!({ "metadata": { "annotations": { STATE_ANNOTATION: format_state(memory) } } });
        let patch = Patch::Merge(&body);
        let result = retry(&self.backoff, is_retryable, || api.patch(name, &pp, &patch)).await;
        if let Err(error) = result {
            tracing::warn!(namespace, pod = name, %error, "saving the resize state");
        }
    }

    fn count(&self, action: &'static str, outcome: &'static str) {
        self.metrics
            .actions
            .get_or_create(&OutcomeLabels { action, outcome })
            .inc();
    }

    /// Publishes an event on the pod and, if known, on its VPA. Event failures are logged, never fatal.
    async fn event(&self, t: Target<'_>, type_: EventType, reason: &str, note: &str) {
        let pod_ref = ObjectReference {
            api_version: Some("v1".to_owned()),
            kind: Some("Pod".to_owned()),
            name: t.pod.metadata.name.clone(),
            namespace: t.pod.metadata.namespace.clone(),
            uid: t.pod.metadata.uid.clone(),
            resource_version: t.pod.metadata.resource_version.clone(),
            field_path: None,
        };
        let mut refs = vec![(pod_ref.clone(), note.to_owned(), None)];
        if let Some(vpa) = t.vpa {
            refs.push((
                vpa.clone(),
                format!("pod {}: {note}", t.view.name),
                Some(pod_ref),
            ));
        }
        for (reference, note, secondary) in refs {
            let ev = Event {
                type_,
                reason: reason.to_owned(),
                note: Some(truncate(&note, 1000)),
                action: "Resize".to_owned(),
                secondary,
            };
            if let Err(error) = self.recorder.publish(&ev, &reference).await {
                tracing::warn!(%error, reason, "publishing an event");
            }
        }
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// `PodResizeValidator` marks its node-capacity refusal with a cause of type `NodeCapacity`.
fn is_node_capacity(s: &kube::core::Status) -> bool {
    s.details
        .as_ref()
        .is_some_and(|d| d.causes.iter().any(|c| c.reason == "NodeCapacity"))
}

/// The Eviction API answers 429 when a PodDisruptionBudget blocks the eviction.
fn is_pdb_block(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 429)
}

/// `infeasible` for the API server's "larger than the node" refusal, `rejected` for other refusals, `error`
/// for the rest.
fn classify(e: kube::Error) -> (&'static str, String) {
    match &e {
        kube::Error::Api(s) if s.code == 403 && is_node_capacity(s) => {
            ("infeasible", e.to_string())
        }
        kube::Error::Api(s) if matches!(s.code, 400 | 403 | 404 | 409 | 422) => {
            ("rejected", e.to_string())
        }
        _ => ("error", e.to_string()),
    }
}
