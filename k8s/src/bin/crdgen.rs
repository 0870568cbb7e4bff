//! Writes the CRD manifests generated from the Rust types into a directory (default `deploy/crds`).

use std::path::PathBuf;

use anyhow::Context;

fn main() -> anyhow::Result<()> {
    let dir = std::env::args_os()
        .nth(1)
        .map_or_else(|| PathBuf::from("deploy/crds"), PathBuf::from);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for manifest in tailor_k8s::crd::manifests()? {
        let path = dir.join(manifest.file_name);
        std::fs::write(&path, manifest.yaml)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
