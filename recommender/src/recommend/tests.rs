use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use tailor_core::quantity::{Bytes, MilliCpu};
use tailor_core::report::{
    ContainerRef, ContainerReport, CpuSummary, MemorySummary, ThrottlingDelta,
    cpu_bucket_for_millicores,
};
use tailor_k8s::crd::vpa::{PodResourcePolicy, VerticalPodAutoscalerSpec};

use super::*;
use crate::model::ModelOptions;
use crate::pods::tests::{NoLookup, pod};

const T0: i64 = 1_800_000_000_000;

fn vpa(kind: &str, name: &str, policies: Vec<ContainerResourcePolicy>) -> VerticalPodAutoscaler {
    let mut v = VerticalPodAutoscaler::new(
        "db-vpa",
        VerticalPodAutoscalerSpec {
            target_ref: k8s_openapi::api::autoscaling::v1::CrossVersionObjectReference {
                api_version: Some("apps/v1".into()),
                kind: kind.into(),
                name: name.into(),
            },
            resource_policy: Some(PodResourcePolicy {
                container_policies: policies,
            }),
            ..VerticalPodAutoscalerSpec::default()
        },
    );
    v.metadata = ObjectMeta {
        namespace: Some("shop".into()),
        generation: Some(4),
        ..v.metadata
    };
    v
}

fn fed_model(minutes: i64, millicores: u64, memory: u64) -> Model {
    throttled_model(minutes, millicores, memory, ThrottlingDelta::default())
}

/// `fed_model`, each minute reporting `throttling` (upstream options: the throttling signal is off, which
/// leaves the CPUThrottled condition on).
fn throttled_model(
    minutes: i64,
    millicores: u64,
    memory: u64,
    throttling: ThrottlingDelta,
) -> Model {
    let mut model = Model::new(ModelOptions::upstream());
    let key = ContainerKey::new(
        WorkloadKey::new("shop", WorkloadKind::StatefulSet, "db"),
        "app",
    );
    for i in 0..minutes {
        let start = T0 + i * 60_000;
        let r = ContainerReport {
            container: ContainerRef {
                namespace: "shop".into(),
                pod: "db-0".into(),
                pod_uid: "u1".into(),
                container: "app".into(),
                container_id: "c".into(),
            },
            interval_start_ms: start,
            interval_end_ms: start + 60_000,
            samples: 6,
            startup: false,
            started_ms: None,
            cpu: CpuSummary {
                histogram: BTreeMap::from([(cpu_bucket_for_millicores(millicores), 6)]),
                throttling,
                ..CpuSummary::default()
            },
            memory: MemorySummary {
                working_set_peak_bytes: memory,
                current_peak_bytes: memory,
                ..MemorySummary::default()
            },
        };
        model.apply_container(key.clone(), &r, Timestamp::from_unix_millis(start));
    }
    model
}

fn pods() -> PodIndex {
    let mut index = PodIndex::default();
    index.apply(&pod("u1", "node-a", "db"), &NoLookup);
    index
}

fn now() -> Timestamp {
    Timestamp::from_unix_millis(T0 + 3 * 3_600_000)
}

fn cond<'a>(s: &'a VerticalPodAutoscalerStatus, t: &str) -> &'a str {
    s.condition(t).map_or("absent", |c| c.status.as_str())
}

#[test]
fn recommends_with_history_and_reports_conditions() {
    let model = fed_model(120, 250, 200 << 20);
    let out = compute(
        &vpa("StatefulSet", "db", vec![]),
        &model,
        &pods(),
        None,
        &RecommendConfig::default(),
        now(),
    );
    let rec = out.status.recommendation.as_ref().expect("recommendation");
    let app = &rec.container_recommendations[0];
    assert_eq!(app.container_name, "app");
    let target = parse_resources(&app.target);
    // P90 of 250m is the bucket end (≤5 % above) plus Tailor's 5 % CPU margin.
    let cpu = target.cpu.expect("cpu").get();
    assert!((262..=276).contains(&cpu), "{cpu}");
    // Memory: at least the per-pod minimum of 250Mi (one container).
    assert!(target.memory.expect("memory") >= Bytes(250 << 20));
    assert_eq!(
        cond(&out.status, condition::RECOMMENDATION_PROVIDED),
        "True"
    );
    assert_eq!(
        cond(&out.status, condition::LOW_CONFIDENCE),
        "True",
        "two hours is less than a day"
    );
    assert_eq!(cond(&out.status, condition::NO_PODS_MATCHED), "False");
    assert_eq!(out.status.observed_generation, Some(4));
}

#[test]
fn cpu_throttled_names_containers_above_the_threshold_until_their_share_fades() {
    use tailor_k8s::crd::throttled::parse_throttled_message;
    let v = vpa("StatefulSet", "db", vec![]);
    let cfg = RecommendConfig::default();
    // 600 periods a minute (100 ms), a quarter of them throttled, for two hours ending an hour before `now`.
    let heavy = ThrottlingDelta {
        nr_periods: 600,
        nr_throttled: 150,
        throttled_usec: 0,
    };
    let model = throttled_model(120, 250, 200 << 20, heavy);
    let out = compute(&v, &model, &pods(), None, &cfg, now());
    let c = out
        .status
        .condition(condition::CPU_THROTTLED)
        .expect("condition");
    assert_eq!(c.status, "True");
    let named = parse_throttled_message(c.message.as_deref().unwrap_or_default());
    assert_eq!(named.len(), 1);
    assert_eq!((named[0].container.as_str(), named[0].percent), ("app", 25));

    let light = ThrottlingDelta {
        nr_throttled: 30,
        ..heavy
    };
    for (model, why) in [
        (throttled_model(120, 250, 200 << 20, light), "5 % < 10 %"),
        (fed_model(120, 250, 200 << 20), "no limit, no periods"),
    ] {
        let out = compute(&v, &model, &pods(), None, &cfg, now());
        assert_eq!(
            cond(&out.status, condition::CPU_THROTTLED),
            "False",
            "{why}"
        );
    }
    // Twelve hours without reports: the tally has faded below what a share can be read from.
    let later = now().saturating_add(std::time::Duration::from_secs(12 * 3600));
    let out = compute(&v, &model, &pods(), None, &cfg, later);
    assert_eq!(cond(&out.status, condition::CPU_THROTTLED), "False");
}

#[test]
fn caps_by_policy_and_largest_node_and_keeps_uncapped_target() {
    let model = fed_model(120, 2000, 200 << 20);
    let policy = ContainerResourcePolicy {
        container_name: Some("*".into()),
        max_allowed: Some(BTreeMap::from([("cpu".into(), Quantity("1".into()))])),
        min_allowed: Some(BTreeMap::from([("memory".into(), Quantity("1Gi".into()))])),
        ..ContainerResourcePolicy::default()
    };
    let node = Resources::new(MilliCpu(800), Bytes(8 << 30));
    let out = compute(
        &vpa("StatefulSet", "db", vec![policy]),
        &model,
        &pods(),
        Some(node),
        &RecommendConfig::default(),
        now(),
    );
    let app = &out
        .status
        .recommendation
        .expect("rec")
        .container_recommendations[0];
    let target = parse_resources(&app.target);
    assert_eq!(
        target.cpu,
        Some(MilliCpu(800)),
        "the node is smaller than maxAllowed"
    );
    assert_eq!(
        target.memory,
        Some(Bytes(1 << 30)),
        "minAllowed lifts memory"
    );
    let upper = parse_resources(app.upper_bound.as_ref().expect("upper"));
    assert_eq!(upper.cpu, Some(MilliCpu(800)));
    let uncapped = parse_resources(app.uncapped_target.as_ref().expect("uncapped"));
    assert!(uncapped.cpu.expect("cpu") > MilliCpu(2000));
}

#[test]
fn controlled_resources_and_off_mode() {
    let model = fed_model(60, 250, 200 << 20);
    let cpu_only = ContainerResourcePolicy {
        container_name: Some("app".into()),
        controlled_resources: Some(vec!["cpu".into()]),
        ..ContainerResourcePolicy::default()
    };
    let out = compute(
        &vpa("StatefulSet", "db", vec![cpu_only]),
        &model,
        &pods(),
        None,
        &RecommendConfig::default(),
        now(),
    );
    let app = &out
        .status
        .recommendation
        .expect("rec")
        .container_recommendations[0];
    assert_eq!(app.target.keys().collect::<Vec<_>>(), vec!["cpu"]);

    let off = ContainerResourcePolicy {
        container_name: Some("app".into()),
        mode: Some(ContainerScalingMode::Off),
        ..ContainerResourcePolicy::default()
    };
    let out = compute(
        &vpa("StatefulSet", "db", vec![off]),
        &model,
        &pods(),
        None,
        &RecommendConfig::default(),
        now(),
    );
    assert!(out.status.recommendation.is_none());
    assert_eq!(
        cond(&out.status, condition::RECOMMENDATION_PROVIDED),
        "False"
    );
}

#[test]
fn no_pods_and_no_history() {
    let model = Model::new(ModelOptions::default());
    let out = compute(
        &vpa("Deployment", "ghost", vec![]),
        &model,
        &PodIndex::default(),
        None,
        &RecommendConfig::default(),
        now(),
    );
    assert_eq!(cond(&out.status, condition::NO_PODS_MATCHED), "True");
    assert_eq!(
        cond(&out.status, condition::RECOMMENDATION_PROVIDED),
        "False"
    );
    assert!(out.status.recommendation.is_none());
}

#[test]
fn history_outlives_pods() {
    let model = fed_model(60, 250, 200 << 20);
    let out = compute(
        &vpa("StatefulSet", "db", vec![]),
        &model,
        &PodIndex::default(),
        None,
        &RecommendConfig::default(),
        now(),
    );
    assert!(out.status.recommendation.is_some());
    assert_eq!(cond(&out.status, condition::NO_PODS_MATCHED), "True");
}

#[test]
fn unsupported_targets() {
    let model = Model::new(ModelOptions::default());
    let out = compute(
        &vpa("Pod", "x", vec![]),
        &model,
        &pods(),
        None,
        &RecommendConfig::default(),
        now(),
    );
    assert_eq!(cond(&out.status, condition::CONFIG_UNSUPPORTED), "True");
    let out = compute(
        &vpa("Deployment", "", vec![]),
        &model,
        &pods(),
        None,
        &RecommendConfig::default(),
        now(),
    );
    assert_eq!(cond(&out.status, condition::CONFIG_UNSUPPORTED), "True");
}

#[test]
fn unchanged_inputs_give_an_identical_status() {
    let model = fed_model(60, 250, 200 << 20);
    let mut v = vpa("StatefulSet", "db", vec![]);
    let first = compute(
        &v,
        &model,
        &pods(),
        None,
        &RecommendConfig::default(),
        now(),
    );
    v.status = Some(first.status.clone());
    let later = Timestamp::from_unix_millis(now().unix_millis() + 1);
    let second = compute(
        &v,
        &model,
        &pods(),
        None,
        &RecommendConfig::default(),
        later,
    );
    assert_eq!(
        first.status, second.status,
        "transition times are kept, so no write is needed"
    );
}

#[test]
fn memory_figures_are_whole_mebibytes_with_the_default_flags_and_exact_in_upstream_mode() {
    // 600 MiB peaks give a P90 at a bucket end that is no whole number of MiB.
    let model = fed_model(120, 250, 600 << 20);
    let flags = crate::args::Args::parse_from_iter(["tailor-recommender", "--insecure-http"])
        .expect("flags")
        .recommend_config();
    let mib = |out: &Outcome| -> Vec<i64> {
        let rec = out.status.recommendation.as_ref().expect("recommendation");
        let app = &rec.container_recommendations[0];
        [
            Some(&app.target),
            app.lower_bound.as_ref(),
            app.upper_bound.as_ref(),
            app.uncapped_target.as_ref(),
        ]
        .into_iter()
        .flatten()
        .map(|r| parse_resources(r).memory.expect("memory").get())
        .collect()
    };
    let v = vpa("StatefulSet", "db", vec![]);
    let rounded = mib(&compute(&v, &model, &pods(), None, &flags, now()));
    // Upstream's estimator flags (no rounding); `RecommendConfig::default()` carries Tailor's, which round.
    let upstream = RecommendConfig {
        estimator: EstimatorConfig::default(),
        ..RecommendConfig::default()
    };
    let exact = mib(&compute(&v, &model, &pods(), None, &upstream, now()));
    assert_eq!(rounded.len(), 4);
    for (r, e) in rounded.iter().zip(&exact) {
        assert_eq!(r % (1 << 20), 0, "{r} is whole MiB");
        assert!(
            *r >= *e && r - e < 1 << 20,
            "rounded up by less than 1 MiB: {r} vs {e}"
        );
    }
    assert!(
        exact.iter().any(|e| e % (1 << 20) != 0),
        "upstream mode leaves bytes as computed: {exact:?}"
    );
}

#[test]
fn memory_limits_only_under_from_peaks_capped_by_max_allowed_and_never_below_the_request() {
    use tailor_core::estimate::MemoryLimitPolicy;
    let model = fed_model(120, 250, 600 << 20);
    let v = vpa("StatefulSet", "db", vec![]);
    let out = compute(
        &v,
        &model,
        &pods(),
        None,
        &RecommendConfig::default(),
        now(),
    );
    assert!(out.memory_limits.is_empty(), "keep-ratio writes no limits");

    let cfg = RecommendConfig {
        estimator: EstimatorConfig {
            memory_limit: MemoryLimitPolicy::FromPeaks {
                percentile: 0.9,
                margin_fraction: 0.15,
            },
            ..EstimatorConfig::tailor()
        },
        ..RecommendConfig::default()
    };
    let out = compute(&v, &model, &pods(), None, &cfg, now());
    let limit = out.memory_limits["app"];
    let target = out.containers[0].recommendation.target.memory;
    assert!(
        limit >= target && limit >= Bytes(600 << 20),
        "{limit} vs {target}"
    );

    let policy = ContainerResourcePolicy {
        container_name: Some("*".into()),
        max_allowed: Some(BTreeMap::from([(
            "memory".into(),
            Quantity("500Mi".into()),
        )])),
        ..ContainerResourcePolicy::default()
    };
    let capped = compute(
        &vpa("StatefulSet", "db", vec![policy]),
        &model,
        &pods(),
        None,
        &cfg,
        now(),
    );
    assert_eq!(capped.memory_limits["app"], Bytes(500 << 20));
}
