//! Applies the shipped manifests (deploy/crds and each component's ServiceAccount and RBAC) as `kubectl apply -k`
//! would: server-side apply, namespaced objects without a namespace go to the component namespace.

use std::path::{Path, PathBuf};

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde::Deserialize as _;

use crate::DemoError;

/// Where Tailor's components run (the kustomizations' namespace).
pub const SYSTEM_NAMESPACE: &str = "tailor-system";
const FIELD_MANAGER: &str = "tailor-demo";

/// The repository's `deploy/` folder.
pub fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

/// The files the demo applies, in order: CRDs, then per component its ServiceAccount and RBAC.
pub fn shipped_files() -> Vec<PathBuf> {
    let deploy = deploy_dir();
    let mut files = vec![
        deploy.join("crds/verticalpodautoscalers.yaml"),
        deploy.join("crds/verticalpodautoscalercheckpoints.yaml"),
    ];
    for component in ["node-agent", "recommender", "updater"] {
        files.push(deploy.join(component).join("serviceaccount.yaml"));
        files.push(deploy.join(component).join("rbac.yaml"));
    }
    files
}

/// The documents of a multi-document YAML text, as JSON values (empty documents skipped).
pub fn documents(text: &str) -> Result<Vec<serde_json::Value>, serde_yaml::Error> {
    let mut out = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(text) {
        let value = serde_json::Value::deserialize(doc)?;
        if !value.is_null() {
            out.push(value);
        }
    }
    Ok(out)
}

/// Whether objects of `kind` (among those the shipped manifests hold) live in a namespace.
fn namespaced(kind: &str) -> bool {
    !matches!(
        kind,
        "Namespace" | "ClusterRole" | "ClusterRoleBinding" | "CustomResourceDefinition"
    )
}

/// Applies every document of `path`.
pub async fn apply_file(client: &kube::Client, path: &Path) -> Result<usize, DemoError> {
    let text = std::fs::read_to_string(path).map_err(DemoError::io(path))?;
    let bad = |message: String| DemoError::Manifest {
        path: path.to_path_buf(),
        message,
    };
    let docs = documents(&text).map_err(|e| bad(e.to_string()))?;
    for doc in &docs {
        apply_value(client, doc)
            .await
            .map_err(|e| bad(e.to_string()))?;
    }
    Ok(docs.len())
}

/// Applies one object given as JSON.
pub async fn apply_value(client: &kube::Client, doc: &serde_json::Value) -> Result<(), DemoError> {
    let invalid = |message: &str| DemoError::Manifest {
        path: PathBuf::from("<object>"),
        message: message.to_owned(),
    };
    let api_version = doc["apiVersion"]
        .as_str()
        .ok_or_else(|| invalid("no apiVersion"))?;
    let kind = doc["kind"].as_str().ok_or_else(|| invalid("no kind"))?;
    let name = doc["metadata"]["name"]
        .as_str()
        .ok_or_else(|| invalid("no metadata.name"))?;
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
    let api: Api<DynamicObject> = if namespaced(kind) {
        let ns = doc["metadata"]["namespace"]
            .as_str()
            .unwrap_or(SYSTEM_NAMESPACE);
        Api::namespaced_with(client.clone(), ns, &resource)
    } else {
        Api::all_with(client.clone(), &resource)
    };
    api.patch(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(doc),
    )
    .await
    .map_err(DemoError::kube(format!("applying {kind} {name}")))?;
    Ok(())
}

/// Creates the namespace if it does not exist.
pub async fn ensure_namespace(client: &kube::Client, name: &str) -> Result<(), DemoError> {
    apply_value(
        client,
        &serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_file_parses_into_named_objects() {
        for path in shipped_files() {
            let text = std::fs::read_to_string(&path).expect("read");
            let docs = documents(&text).expect("yaml");
            assert!(!docs.is_empty(), "{}", path.display());
            for d in docs {
                assert!(d["kind"].is_string() && d["metadata"]["name"].is_string());
            }
        }
    }

    #[test]
    fn cluster_scoped_kinds_are_known() {
        assert!(
            !namespaced("ClusterRole") && namespaced("RoleBinding") && namespaced("ServiceAccount")
        );
    }
}
