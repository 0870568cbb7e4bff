//! Test bed for Tailor's end-to-end tests: a real Kubernetes control plane on 127.0.0.1.
//!
//! [`ControlPlane::start`] runs etcd, kube-apiserver, kube-controller-manager and kube-scheduler
//! (built from the Go modules pinned in `tests/controlplane/go.mod` by `make controlplane`) with
//! TLS, `Node,RBAC` authorization, the default admission plugins (plus NodeRestriction) and
//! ServiceAccount token signing. It hands out an admin client and clients/kubeconfigs for any
//! ServiceAccount (TokenRequest API) or node identity, so every Tailor component is tested with its
//! own RBAC. Dropping the [`ControlPlane`] kills every process and removes its temp dir, also when
//! the test panics; the components' log tails then go to stderr, which `cargo test` shows for
//! failing tests only.
//!
//! ```no_run
//! # async fn demo() -> Result<(), tailor_tests::Error> {
//! let cp = tailor_tests::ControlPlane::start().await?;
//! let admin: kube::Client = cp.admin_client().await?;
//! let recommender: kube::Client = cp.service_account_client("tailor-system", "recommender").await?;
//! let kubeconfig_for_a_subprocess = cp.service_account_kubeconfig("tailor-system", "updater").await?;
//! # let _ = (admin, recommender, kubeconfig_for_a_subprocess);
//! # Ok(()) }
//! ```
//!
//! The binaries are looked up in `$TAILOR_CONTROLPLANE_BIN` (default `.build/controlplane/bin` under
//! the workspace root). Missing binaries are an error ([`Error::MissingBinaries`]), never a skip.

mod controlplane;
mod error;
mod kubeconfig;
mod pki;
mod process;

pub use controlplane::{
    BIN_DIR_ENV, BINARIES, ControlPlane, KEEP_DIR_ENV, Options, SERVICE_ACCOUNT_ISSUER,
    SERVICE_CIDR, StartupTimes, default_bin_dir,
};
pub use error::Error;
pub use kubeconfig::{client_from_kubeconfig, install_crypto_provider};
pub use pki::ServingPem;
