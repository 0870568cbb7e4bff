//! AdmissionReview v1 in and out. Anything that is not a readable pod CREATE review is answered "allowed,
//! unchanged", echoing the request's uid when one can be found: the webhook never blocks pod creation.

use k8s_openapi::api::core::v1::Pod;
use kube::core::DynamicObject;
use kube::core::Status;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview, Operation};
use serde_json::Value;

/// Why a review is let through without a look at the pod.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    /// The body is not an AdmissionReview this webhook can read.
    #[error("unreadable AdmissionReview")]
    Unreadable(#[source] serde_json::Error),
    /// The review carries no request.
    #[error("the AdmissionReview has no request")]
    NoRequest,
    /// A review of something other than a pod being created (the webhook is registered for pod CREATE only;
    /// anything else is answered but never touched).
    #[error("not a pod CREATE")]
    NotPodCreate,
}

impl ReviewError {
    /// Bounded metric label.
    pub fn as_str(&self) -> &'static str {
        match self {
            ReviewError::Unreadable(_) => "unreadable",
            ReviewError::NoRequest => "no_request",
            ReviewError::NotPodCreate => "not_pod_create",
        }
    }
}

/// A review the webhook will not act on, with the uid to answer under (empty when none could be read).
#[derive(Debug)]
pub struct Unreadable {
    pub uid: String,
    pub error: ReviewError,
}

/// The pod CREATE request in `body`, or why there is none.
pub fn parse(body: &[u8]) -> Result<AdmissionRequest<Pod>, Unreadable> {
    let review: AdmissionReview<Pod> = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => {
            return Err(Unreadable {
                uid: salvage_uid(body),
                error: ReviewError::Unreadable(e),
            });
        }
    };
    let request: AdmissionRequest<Pod> = review.try_into().map_err(|_| Unreadable {
        uid: String::new(),
        error: ReviewError::NoRequest,
    })?;
    let is_pod = request.kind.group.is_empty() && request.kind.kind == "Pod";
    let whole_pod = request.sub_resource.as_deref().is_none_or(str::is_empty);
    if !is_pod || !whole_pod || request.operation != Operation::Create || request.object.is_none() {
        return Err(Unreadable {
            uid: request.uid,
            error: ReviewError::NotPodCreate,
        });
    }
    Ok(request)
}

/// The request uid of a body that did not parse as a pod review, if it is JSON with a string
/// `request.uid` at all.
fn salvage_uid(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("request")?.get("uid")?.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// "Allowed, unchanged" for a review that could not be read.
pub fn allow_uid(uid: String) -> AdmissionReview<DynamicObject> {
    let mut response = AdmissionResponse::invalid("");
    response.allowed = true;
    response.uid = uid;
    response.result = Status::success();
    response.into_review()
}

/// "Allowed, unchanged" for a request.
pub fn allow(request: &AdmissionRequest<Pod>) -> AdmissionReview<DynamicObject> {
    AdmissionResponse::from(request).into_review()
}

/// "Allowed, with this patch"; unchanged if the patch cannot be serialized.
pub fn allow_patched(
    request: &AdmissionRequest<Pod>,
    patch: json_patch::Patch,
) -> AdmissionReview<DynamicObject> {
    match AdmissionResponse::from(request).with_patch(patch) {
        Ok(r) => r.into_review(),
        Err(error) => {
            tracing::warn!(%error, "serializing the patch; letting the pod through unchanged");
            allow(request)
        }
    }
}
