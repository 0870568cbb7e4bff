//! Reads what the report needs from the cluster: VPAs and pods in scope (required), the ReplicaSets and Jobs
//! between pods and their workloads (metadata only), and Tailor's checkpoint ConfigMaps. Lists are paged and
//! retried with backoff; the optional reads degrade to warnings (a user who may not read `tailor-system` still
//! gets a report, without OOM floors and history).

use std::future::Future;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{ListParams, ObjectList};
use kube::{Api, Client, Resource};
use tailor_k8s::crd::vpa::VerticalPodAutoscaler;
use tailor_k8s::retry::{Backoff, is_retryable, retry};

use crate::assemble::{OwnerIndex, Snapshot};

/// Page size of every list call: bounded memory per response on big clusters.
const PAGE: u32 = 500;

/// Which namespaces to report on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// One namespace.
    Namespace(String),
    /// Every namespace.
    All,
}

impl Scope {
    fn api<K>(&self, client: &Client) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as Resource>::DynamicType: Default,
    {
        match self {
            Self::Namespace(ns) => Api::namespaced(client.clone(), ns),
            Self::All => Api::all(client.clone()),
        }
    }
}

/// A list the report cannot do without failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The VPA API is not served: the CRD is not installed.
    #[error(
        "the cluster does not serve autoscaling.k8s.io/v1 VerticalPodAutoscalers (is the VPA CRD installed?)"
    )]
    NoVpaApi(#[source] kube::Error),
    /// Listing `what` failed.
    #[error("listing {what}")]
    List {
        /// What was being listed.
        what: &'static str,
        /// The cause.
        #[source]
        source: kube::Error,
    },
}

/// Lists every page of `list`, retrying each page on transient API errors.
async fn paged<T, F, Fut>(params: &ListParams, list: F) -> Result<Vec<T>, kube::Error>
where
    T: Clone,
    F: Fn(ListParams) -> Fut,
    Fut: Future<Output = Result<ObjectList<T>, kube::Error>>,
{
    let mut items = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut page_params = params.clone().limit(PAGE);
        if let Some(t) = &token {
            page_params = page_params.continue_token(t);
        }
        let page = retry(&Backoff::default(), is_retryable, || {
            list(page_params.clone())
        })
        .await?;
        items.extend(page.items);
        match page.metadata.continue_.filter(|t| !t.is_empty()) {
            Some(next) => token = Some(next),
            None => return Ok(items),
        }
    }
}

fn forbidden_or_missing(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(s) if matches!(s.code, 401 | 403 | 404))
}

/// Reads the snapshot for `scope`; checkpoints come from `checkpoint_namespace`.
pub async fn fetch(
    client: &Client,
    scope: &Scope,
    checkpoint_namespace: &str,
) -> Result<Snapshot, FetchError> {
    let mut snapshot = Snapshot::default();
    let all = ListParams::default();

    let vpas: Api<VerticalPodAutoscaler> = scope.api(client);
    snapshot.vpas = paged(&all, |lp| {
        let vpas = vpas.clone();
        async move { vpas.list(&lp).await }
    })
    .await
    .map_err(|e| match &e {
        kube::Error::Api(s) if s.code == 404 => FetchError::NoVpaApi(e),
        _ => FetchError::List {
            what: "VerticalPodAutoscalers",
            source: e,
        },
    })?;
    if snapshot.vpas.is_empty() {
        return Ok(snapshot);
    }

    let pods: Api<Pod> = scope.api(client);
    snapshot.pods = paged(&all, |lp| {
        let pods = pods.clone();
        async move { pods.list(&lp).await }
    })
    .await
    .map_err(|source| FetchError::List {
        what: "pods",
        source,
    })?;

    snapshot.owners = owners(client, scope, &mut snapshot.warnings).await?;

    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), checkpoint_namespace);
    let labelled = ListParams::default().labels(tailor_recommender::checkpoint::LABEL);
    match paged(&labelled, |lp| {
        let configmaps = configmaps.clone();
        async move { configmaps.list(&lp).await }
    })
    .await
    {
        Ok(list) => snapshot.checkpoints = list,
        Err(e) if forbidden_or_missing(&e) => snapshot.warnings.push(format!(
            "Tailor's checkpoints in namespace {checkpoint_namespace} are not readable ({e}); \
             OOM floors and history are not shown"
        )),
        Err(source) => {
            return Err(FetchError::List {
                what: "checkpoint ConfigMaps",
                source,
            });
        }
    }
    Ok(snapshot)
}

async fn owners(
    client: &Client,
    scope: &Scope,
    warnings: &mut Vec<String>,
) -> Result<OwnerIndex, FetchError> {
    let mut index = OwnerIndex::default();
    let all = ListParams::default();
    let replica_sets: Api<ReplicaSet> = scope.api(client);
    let jobs: Api<Job> = scope.api(client);
    let meta = |items: Vec<kube::core::PartialObjectMeta<ReplicaSet>>| {
        items.into_iter().map(|o| o.metadata).collect::<Vec<_>>()
    };
    let job_meta = |items: Vec<kube::core::PartialObjectMeta<Job>>| {
        items.into_iter().map(|o| o.metadata).collect::<Vec<_>>()
    };
    let lists = [
        (
            "ReplicaSet",
            paged(&all, |lp| {
                let api = replica_sets.clone();
                async move { api.list_metadata(&lp).await }
            })
            .await
            .map(meta),
        ),
        (
            "Job",
            paged(&all, |lp| {
                let api = jobs.clone();
                async move { api.list_metadata(&lp).await }
            })
            .await
            .map(job_meta),
        ),
    ];
    for (kind, result) in lists {
        match result {
            Ok(items) => {
                for meta in items {
                    index.insert(
                        kind,
                        meta.namespace.as_deref().unwrap_or_default(),
                        meta.name.as_deref().unwrap_or_default(),
                        meta.owner_references.unwrap_or_default(),
                    );
                }
            }
            Err(e) if forbidden_or_missing(&e) => warnings.push(format!(
                "{kind}s are not readable ({e}); pods they own are not matched to their workloads"
            )),
            Err(source) => {
                return Err(FetchError::List {
                    what: if kind == "Job" { "Jobs" } else { "ReplicaSets" },
                    source,
                });
            }
        }
    }
    Ok(index)
}
