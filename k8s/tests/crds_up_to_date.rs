//! Fails when the committed CRD manifests under `deploy/crds/` differ from what the Rust types generate.
//! Fix with `cargo run -p tailor-k8s --bin tailor-crdgen` from the repository root.

use std::path::Path;

#[test]
fn committed_crds_match_the_rust_types() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/crds");
    for manifest in tailor_k8s::crd::manifests().expect("CRDs render") {
        let path = dir.join(manifest.file_name);
        let committed = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{} is missing ({e}); run tailor-crdgen", path.display()));
        assert!(
            committed == manifest.yaml,
            "{} is stale: run `cargo run -p tailor-k8s --bin tailor-crdgen` and commit the result",
            path.display()
        );
    }
}
