//! Who is sending a report: the bearer token is checked with a TokenReview, only the node-agent's
//! ServiceAccount is accepted, and the node the token is bound to (the `authentication.kubernetes.io/node-name`
//! extra claim of a kubelet-projected token) is the only node it may report about.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use kube::Api;
use kube::api::PostParams;

/// The extra claim a node-bound ServiceAccount token carries (KEP-4193).
pub const NODE_NAME_CLAIM: &str = "authentication.kubernetes.io/node-name";

/// What a TokenReview said about a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Review {
    /// The token is valid for `username`, bound to `node` if the token carries the node claim.
    Authenticated {
        /// The user name, e.g. `system:serviceaccount:tailor:tailor-node-agent`.
        username: String,
        /// The node the token is bound to.
        node: Option<String>,
    },
    /// The token is not valid.
    Unauthenticated,
}

/// The TokenReview call itself failed (the API server is unreachable, or forbids us to review).
#[derive(Debug, thiserror::Error)]
#[error("token review failed")]
pub struct ReviewError(#[source] pub kube::Error);

/// Reviews bearer tokens; a trait so router tests can use a fake.
pub trait TokenReviewer: Send + Sync + 'static {
    /// Reviews one token.
    fn review<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Review, ReviewError>>;
}

/// Reviews tokens with the API server's TokenReview, caching answers briefly so a busy agent does not cost one
/// API call per report.
#[derive(Debug)]
pub struct KubeTokenReviewer {
    api: Api<TokenReview>,
    audiences: Vec<String>,
    ttl: Duration,
    cache: Mutex<HashMap<u64, (Review, Instant)>>,
    hasher: RandomState,
}

const CACHE_CAPACITY: usize = 10_000;

impl KubeTokenReviewer {
    /// A reviewer using `client`, requiring `audiences` (empty: the API server's default), caching for `ttl`.
    pub fn new(client: kube::Client, audiences: Vec<String>, ttl: Duration) -> Self {
        Self {
            api: Api::all(client),
            audiences,
            ttl,
            cache: Mutex::new(HashMap::new()),
            hasher: RandomState::new(),
        }
    }

    fn cached(&self, key: u64) -> Option<Review> {
        let cache = self.cache.lock().ok()?;
        cache
            .get(&key)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(r, _)| r.clone())
    }

    fn remember(&self, key: u64, review: &Review) {
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= CACHE_CAPACITY {
                let ttl = self.ttl;
                cache.retain(|_, (_, at)| at.elapsed() < ttl);
                if cache.len() >= CACHE_CAPACITY {
                    cache.clear();
                }
            }
            cache.insert(key, (review.clone(), Instant::now()));
        }
    }
}

impl TokenReviewer for KubeTokenReviewer {
    fn review<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Review, ReviewError>> {
        Box::pin(async move {
            // Only a keyed hash of the token is kept, never the token itself.
            let key = self.hasher.hash_one(token);
            if let Some(review) = self.cached(key) {
                return Ok(review);
            }
            let request = TokenReview {
                spec: TokenReviewSpec {
                    token: Some(token.to_owned()),
                    audiences: (!self.audiences.is_empty()).then(|| self.audiences.clone()),
                },
                ..TokenReview::default()
            };
            let response = self
                .api
                .create(&PostParams::default(), &request)
                .await
                .map_err(ReviewError)?;
            let review = interpret(&response);
            self.remember(key, &review);
            Ok(review)
        })
    }
}

/// Turns a TokenReview response into a [`Review`].
pub fn interpret(review: &TokenReview) -> Review {
    let Some(status) = &review.status else {
        return Review::Unauthenticated;
    };
    if status.authenticated != Some(true) {
        return Review::Unauthenticated;
    }
    let Some(user) = &status.user else {
        return Review::Unauthenticated;
    };
    let node = user
        .extra
        .as_ref()
        .and_then(|extra| extra.get(NODE_NAME_CLAIM))
        .and_then(|values| values.first())
        .cloned();
    Review::Authenticated {
        username: user.username.clone().unwrap_or_default(),
        node,
    }
}

/// Who may send reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthPolicy {
    /// The one user name accepted: `system:serviceaccount:<namespace>:<name>` of the node-agent.
    pub username: String,
    /// Accept tokens without a node claim (trusting the report's `node` field). Off by default: only a
    /// node-bound token proves which node the sender runs on.
    pub allow_unbound_tokens: bool,
}

impl AuthPolicy {
    /// The policy accepting the ServiceAccount `namespace`/`name`.
    pub fn service_account(namespace: &str, name: &str) -> Self {
        Self {
            username: format!("system:serviceaccount:{namespace}:{name}"),
            allow_unbound_tokens: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::api::authentication::v1::{TokenReviewStatus, UserInfo};

    use super::*;

    fn review(authenticated: bool, node: Option<&str>) -> TokenReview {
        TokenReview {
            status: Some(TokenReviewStatus {
                authenticated: Some(authenticated),
                user: Some(UserInfo {
                    username: Some("system:serviceaccount:tailor:tailor-node-agent".into()),
                    extra: node.map(|n| {
                        BTreeMap::from([(NODE_NAME_CLAIM.to_owned(), vec![n.to_owned()])])
                    }),
                    ..UserInfo::default()
                }),
                ..TokenReviewStatus::default()
            }),
            ..TokenReview::default()
        }
    }

    #[test]
    fn reads_username_and_node_claim() {
        assert_eq!(
            interpret(&review(true, Some("node-a"))),
            Review::Authenticated {
                username: "system:serviceaccount:tailor:tailor-node-agent".into(),
                node: Some("node-a".into())
            }
        );
        assert!(matches!(
            interpret(&review(true, None)),
            Review::Authenticated { node: None, .. }
        ));
    }

    #[test]
    fn unauthenticated_or_empty_is_rejected() {
        assert_eq!(
            interpret(&review(false, Some("node-a"))),
            Review::Unauthenticated
        );
        assert_eq!(interpret(&TokenReview::default()), Review::Unauthenticated);
    }

    #[test]
    fn policy_names_the_service_account() {
        assert_eq!(
            AuthPolicy::service_account("tailor", "tailor-node-agent").username,
            "system:serviceaccount:tailor:tailor-node-agent"
        );
    }
}
