//! End-to-end checks of the test bed itself against the real control plane.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, Role, RoleBinding, RoleRef, Subject};
use kube::api::{Api, ListParams, ObjectMeta, PostParams};
use tailor_tests::ControlPlane;

fn meta(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        ..ObjectMeta::default()
    }
}

/// Retries `check` until it returns `Ok(true)`; RBAC and controllers act asynchronously.
async fn eventually<F, Fut>(what: &str, timeout: Duration, mut check: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        let last = check().await;
        if matches!(last, Ok(true)) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("timed out waiting for {what}; last result: {last:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn is_forbidden<T: std::fmt::Debug>(result: &Result<T, kube::Error>) -> bool {
    matches!(result, Err(kube::Error::Api(status)) if status.code == 403)
}

fn deployment(name: &str, replicas: i32) -> Result<Deployment> {
    let value = serde_json::json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": name },
        "spec": {
            "replicas": replicas,
            "selector": { "matchLabels": { "app": name } },
            "template": {
                "metadata": { "labels": { "app": name } },
                "spec": { "containers": [{
                    "name": "app",
                    "image": "registry.invalid/app:1",
                    "resources": { "requests": { "cpu": "100m", "memory": "64Mi" } }
                }] }
            }
        }
    });
    serde_json::from_value(value).context("building the Deployment")
}

#[tokio::test]
async fn admin_creates_a_namespace_and_a_deployment_whose_pods_the_controllers_create() -> Result<()>
{
    let cp = ControlPlane::start().await?;
    eprintln!(
        "control plane ready in {:.1} s",
        cp.startup_duration().as_secs_f64()
    );
    let admin = cp.admin_client().await?;

    let version = admin.apiserver_version().await?;
    assert_eq!(version.major, "1");
    assert!(version.minor.parse::<u32>()? >= 35, "{version:?}");

    let namespaces = Api::<Namespace>::all(admin.clone());
    namespaces
        .create(
            &PostParams::default(),
            &Namespace {
                metadata: meta("e2e"),
                ..Namespace::default()
            },
        )
        .await?;
    let deployments = Api::<Deployment>::namespaced(admin.clone(), "e2e");
    deployments
        .create(&PostParams::default(), &deployment("web", 2)?)
        .await?;

    // The deployment controller creates a ReplicaSet, the replicaset controller its pods; with no
    // nodes they stay Pending.
    let replicasets = Api::<ReplicaSet>::namespaced(admin.clone(), "e2e");
    let pods = Api::<Pod>::namespaced(admin.clone(), "e2e");
    eventually("the ReplicaSet and 2 pods", Duration::from_secs(60), || {
        let (replicasets, pods) = (replicasets.clone(), pods.clone());
        async move {
            let sets = replicasets.list(&ListParams::default()).await?;
            let pods = pods.list(&ListParams::default().labels("app=web")).await?;
            Ok(sets.items.len() == 1 && pods.items.len() == 2)
        }
    })
    .await?;
    for pod in pods.list(&ListParams::default()).await? {
        let spec = pod.spec.context("pod without spec")?;
        // ServiceAccount admission ran: the pod got the default account.
        assert_eq!(spec.service_account_name.as_deref(), Some("default"));
        assert_eq!(pod.status.and_then(|s| s.phase).as_deref(), Some("Pending"));
    }
    Ok(())
}

#[tokio::test]
async fn service_account_is_forbidden_until_a_role_binding_allows_it() -> Result<()> {
    let cp = ControlPlane::start().await?;
    let admin = cp.admin_client().await?;
    let reader = cp.service_account_client("rbac", "reader").await?;

    let pods = Api::<Pod>::namespaced(reader.clone(), "rbac");
    assert!(
        is_forbidden(&pods.list(&ListParams::default()).await),
        "no RBAC yet, list must be forbidden"
    );

    let role: Role = serde_json::from_value(serde_json::json!({
        "metadata": { "name": "pod-reader" },
        "rules": [{ "apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"] }]
    }))?;
    Api::<Role>::namespaced(admin.clone(), "rbac")
        .create(&PostParams::default(), &role)
        .await?;
    let binding = RoleBinding {
        metadata: meta("reader-reads-pods"),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "Role".into(),
            name: "pod-reader".into(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: "reader".into(),
            namespace: Some("rbac".into()),
            ..Subject::default()
        }]),
    };
    Api::<RoleBinding>::namespaced(admin.clone(), "rbac")
        .create(&PostParams::default(), &binding)
        .await?;

    eventually(
        "the RoleBinding to take effect",
        Duration::from_secs(20),
        || {
            let pods = pods.clone();
            async move { Ok(pods.list(&ListParams::default()).await.is_ok()) }
        },
    )
    .await?;
    // Still least privilege: no writes, nothing outside the namespace.
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": { "name": "p" },
        "spec": { "containers": [{ "name": "c", "image": "registry.invalid/c:1" }] }
    }))?;
    assert!(is_forbidden(
        &pods.create(&PostParams::default(), &pod).await
    ));
    let elsewhere = Api::<Pod>::namespaced(reader, "default");
    assert!(is_forbidden(&elsewhere.list(&ListParams::default()).await));
    Ok(())
}

#[tokio::test]
async fn token_review_validates_minted_tokens_for_an_auth_delegator() -> Result<()> {
    let cp = ControlPlane::start().await?;
    let admin = cp.admin_client().await?;
    let token = cp.service_account_token("tokens", "agent").await?;

    let review = |token: &str| TokenReview {
        spec: TokenReviewSpec {
            token: Some(token.to_string()),
            ..TokenReviewSpec::default()
        },
        ..TokenReview::default()
    };
    let reviews = Api::<TokenReview>::all(admin.clone());
    let accepted = reviews
        .create(&PostParams::default(), &review(&token))
        .await?;
    let status = accepted.status.context("TokenReview without status")?;
    assert_eq!(status.authenticated, Some(true), "{status:?}");
    let user = status.user.context("no user info")?;
    assert_eq!(
        user.username.as_deref(),
        Some("system:serviceaccount:tokens:agent")
    );
    assert!(
        user.groups
            .unwrap_or_default()
            .iter()
            .any(|g| g == "system:serviceaccounts:tokens"),
        "service-account groups missing"
    );

    let rejected = reviews
        .create(&PostParams::default(), &review("not-a-token"))
        .await?;
    assert_ne!(rejected.status.and_then(|s| s.authenticated), Some(true));

    // Audience-bound tokens, as a component sends to a peer that reviews them for its own audience.
    let bound = cp
        .service_account_token_for("tokens", "agent", &["tailor-recommender"])
        .await?;
    let mut for_recommender = review(&bound);
    for_recommender.spec.audiences = Some(vec!["tailor-recommender".to_string()]);
    let status = reviews
        .create(&PostParams::default(), &for_recommender)
        .await?
        .status
        .context("TokenReview without status")?;
    assert_eq!(status.authenticated, Some(true), "{status:?}");
    assert_eq!(
        status.audiences,
        Some(vec!["tailor-recommender".to_string()])
    );
    let wrong_audience = reviews
        .create(&PostParams::default(), &review(&bound))
        .await?;
    assert_ne!(
        wrong_audience.status.and_then(|s| s.authenticated),
        Some(true),
        "a token for another audience must not authenticate against the API server's"
    );

    // A component that verifies peers' tokens needs `system:auth-delegator`, like Tailor's recommender.
    let verifier = Api::<TokenReview>::all(cp.service_account_client("tokens", "verifier").await?);
    assert!(is_forbidden(
        &verifier
            .create(&PostParams::default(), &review(&token))
            .await
    ));
    let binding = ClusterRoleBinding {
        metadata: meta("verifier-auth-delegator"),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "ClusterRole".into(),
            name: "system:auth-delegator".into(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: "verifier".into(),
            namespace: Some("tokens".into()),
            ..Subject::default()
        }]),
    };
    Api::<ClusterRoleBinding>::all(admin)
        .create(&PostParams::default(), &binding)
        .await?;
    eventually(
        "the verifier to be allowed TokenReviews",
        Duration::from_secs(20),
        || {
            let (verifier, body) = (verifier.clone(), review(&token));
            async move {
                let answer = verifier.create(&PostParams::default(), &body).await?;
                Ok(answer.status.and_then(|s| s.authenticated) == Some(true))
            }
        },
    )
    .await?;
    Ok(())
}

#[test]
fn a_panicking_test_leaves_no_process_or_directory_behind() -> Result<()> {
    let (tx, rx) = std::sync::mpsc::channel();
    let outcome = std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(async move {
            let cp = ControlPlane::start().await.expect("control plane starts");
            tx.send((cp.api_url().to_string(), cp.dir().to_path_buf()))
                .expect("send");
            panic!("deliberate panic while the control plane runs");
        })
    })
    .join();
    assert!(outcome.is_err(), "the thread should have panicked");
    let (url, dir) = rx.recv().context("the control plane never started")?;
    let port: u16 = url
        .rsplit(':')
        .next()
        .context("url without port")?
        .parse()?;
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "API server still listening on {port}"
    );
    assert!(!dir.exists(), "{} was not removed", dir.display());
    Ok(())
}

#[tokio::test]
async fn scheduler_binds_a_pod_to_a_node_registered_with_a_node_identity() -> Result<()> {
    use k8s_openapi::api::core::v1::Node;

    let cp = ControlPlane::start().await?;
    let admin = cp.admin_client().await?;
    let kubelet = cp.node_client("node-a").await?;

    let node = |name: &str| -> Result<Node> {
        let resources = serde_json::json!({ "cpu": "2", "memory": "4Gi", "pods": "110" });
        Ok(serde_json::from_value(serde_json::json!({
            "metadata": { "name": name, "labels": { "kubernetes.io/hostname": name } },
            "status": {
                "capacity": resources,
                "allocatable": resources,
                "conditions": [{ "type": "Ready", "status": "True", "reason": "KubeletReady" }]
            }
        }))?)
    };
    let nodes = Api::<Node>::all(kubelet.clone());
    nodes
        .create(&PostParams::default(), &node("node-a")?)
        .await?;
    // NodeRestriction: a kubelet may only register itself.
    assert!(is_forbidden(
        &nodes.create(&PostParams::default(), &node("node-b")?).await
    ));

    Api::<Namespace>::all(admin.clone())
        .create(
            &PostParams::default(),
            &Namespace {
                metadata: meta("sched"),
                ..Namespace::default()
            },
        )
        .await?;
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": { "name": "p" },
        "spec": {
            "containers": [{
                "name": "c",
                "image": "registry.invalid/c:1",
                "resources": { "requests": { "cpu": "100m", "memory": "64Mi" } }
            }],
            // The node lifecycle controller may taint a node whose kubelet never renews its lease.
            "tolerations": [{ "operator": "Exists" }]
        }
    }))?;
    let pods = Api::<Pod>::namespaced(admin, "sched");
    pods.create(&PostParams::default(), &pod).await?;
    eventually(
        "the scheduler to bind the pod to node-a",
        Duration::from_secs(60),
        || {
            let pods = pods.clone();
            async move {
                let pod = pods.get("p").await?;
                Ok(pod.spec.and_then(|s| s.node_name).as_deref() == Some("node-a"))
            }
        },
    )
    .await?;
    // The Node authorizer lets the kubelet read pods bound to it. Its graph is fed by an informer, so it may
    // still refuse ("no relationship found between node") for a moment after the binding; a refusal that lasts
    // fails the test with the last error.
    let bound = Api::<Pod>::namespaced(kubelet, "sched");
    eventually(
        "the Node authorizer to let node-a read its pod",
        Duration::from_secs(10),
        || {
            let bound = bound.clone();
            async move {
                bound.get("p").await?;
                Ok(true)
            }
        },
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn default_admission_plugins_apply_limit_ranges_and_quotas() -> Result<()> {
    use k8s_openapi::api::core::v1::{LimitRange, ResourceQuota};

    let cp = ControlPlane::start().await?;
    let admin = cp.admin_client().await?;
    Api::<Namespace>::all(admin.clone())
        .create(
            &PostParams::default(),
            &Namespace {
                metadata: meta("adm"),
                ..Namespace::default()
            },
        )
        .await?;
    let limits: LimitRange = serde_json::from_value(serde_json::json!({
        "metadata": { "name": "defaults" },
        "spec": { "limits": [{
            "type": "Container",
            "defaultRequest": { "cpu": "50m", "memory": "32Mi" },
            "default": { "cpu": "200m", "memory": "64Mi" }
        }] }
    }))?;
    Api::<LimitRange>::namespaced(admin.clone(), "adm")
        .create(&PostParams::default(), &limits)
        .await?;
    let quota: ResourceQuota = serde_json::from_value(serde_json::json!({
        "metadata": { "name": "small" },
        "spec": { "hard": { "requests.cpu": "100m" } }
    }))?;
    Api::<ResourceQuota>::namespaced(admin.clone(), "adm")
        .create(&PostParams::default(), &quota)
        .await?;

    let pod = |name: &str, cpu: Option<&str>| -> Result<Pod> {
        let resources = match cpu {
            Some(cpu) => {
                serde_json::json!({ "requests": { "cpu": cpu }, "limits": { "cpu": cpu } })
            }
            None => serde_json::json!({}),
        };
        Ok(serde_json::from_value(serde_json::json!({
            "metadata": { "name": name },
            "spec": { "containers": [{ "name": "c", "image": "registry.invalid/c:1", "resources": resources }] }
        }))?)
    };
    let pods = Api::<Pod>::namespaced(admin, "adm");
    // ResourceQuota admission refuses pods until the quota controller has computed usage.
    eventually(
        "the first pod to be admitted",
        Duration::from_secs(30),
        || {
            let (pods, body) = (pods.clone(), pod("defaulted", None));
            async move { Ok(pods.create(&PostParams::default(), &body?).await.is_ok()) }
        },
    )
    .await?;
    let admitted = pods.get("defaulted").await?;
    let resources = admitted
        .spec
        .context("no spec")?
        .containers
        .first()
        .and_then(|c| c.resources.clone())
        .context("LimitRanger did not set resources")?;
    let cpu_request = resources.requests.and_then(|r| r.get("cpu").cloned());
    assert_eq!(
        cpu_request.map(|q| q.0).as_deref(),
        Some("50m"),
        "LimitRanger default request"
    );

    let over = pods
        .create(&PostParams::default(), &pod("greedy", Some("500m"))?)
        .await;
    match over {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 403, "{status:?}");
            assert!(
                status.message.contains("exceeded quota"),
                "{}",
                status.message
            );
        }
        other => bail!("a pod over the quota was not rejected: {other:?}"),
    }
    Ok(())
}
