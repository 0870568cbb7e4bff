//! Leader election on a `coordination.k8s.io/v1` Lease (through `kube-lease-manager`). Standbys keep
//! ingesting and computing; only the holder of the lease writes to the API.

use kube::Client;
use kube_lease_manager::{LeaseCreateMode, LeaseManagerBuilder};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Leader-election flags.
#[derive(Debug, Clone, clap::Args)]
pub struct LeaderArgs {
    /// Elect a leader on a Lease; without it this replica always acts as the leader.
    #[arg(long, env = "TAILOR_LEADER_ELECT", default_value_t = false)]
    pub leader_elect: bool,
    /// Name of the Lease.
    #[arg(long, env = "TAILOR_LEASE_NAME", default_value = "tailor")]
    pub lease_name: String,
    /// Namespace of the Lease (normally the pod's own, from the downward API).
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    pub lease_namespace: String,
    /// This replica's identity in the Lease (normally the pod name, from the downward API).
    #[arg(long, env = "POD_NAME", default_value = "tailor-local")]
    pub identity: String,
    /// How long a lease is valid without renewal.
    #[arg(long, env = "TAILOR_LEASE_DURATION_SECONDS", default_value_t = 15)]
    pub lease_duration_seconds: u64,
    /// How long before expiry the holder renews; must be less than the duration.
    #[arg(long, env = "TAILOR_LEASE_GRACE_SECONDS", default_value_t = 5)]
    pub lease_grace_seconds: u64,
}

/// Errors starting leader election.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    /// The grace period must be shorter than the lease.
    #[error(
        "lease grace ({grace}s) must be positive and shorter than the lease duration ({duration}s)"
    )]
    Timing {
        /// Lease duration in seconds.
        duration: u64,
        /// Grace in seconds.
        grace: u64,
    },
    /// The lease manager could not be built (e.g. the Lease could not be read or created).
    #[error("starting the lease manager")]
    Manager(#[source] kube_lease_manager::LeaseManagerError),
}

/// Whether this replica currently holds the lease. Cheap to clone; every clone sees changes.
#[derive(Debug, Clone)]
pub struct Leadership {
    rx: watch::Receiver<bool>,
    // Holds the sender of a fixed leadership so `changed()` pends instead of reporting a stopped elector.
    _fixed: Option<std::sync::Arc<watch::Sender<bool>>>,
}

impl Leadership {
    /// A leadership that is always held (leader election off, or tests).
    pub fn always() -> Self {
        let (tx, rx) = watch::channel(true);
        Self {
            rx,
            _fixed: Some(std::sync::Arc::new(tx)),
        }
    }

    /// A leadership driven by the returned sender (tests and custom electors).
    pub fn manual(initial: bool) -> (watch::Sender<bool>, Self) {
        let (tx, rx) = watch::channel(initial);
        (tx, Self { rx, _fixed: None })
    }

    /// Whether this replica may write now.
    pub fn is_leader(&self) -> bool {
        *self.rx.borrow()
    }

    /// Waits until leadership changes; returns the new state (false once the elector stops).
    pub async fn changed(&mut self) -> bool {
        match self.rx.changed().await {
            Ok(()) => *self.rx.borrow_and_update(),
            Err(_) => false,
        }
    }
}

/// Starts leader election per `args` (or returns [`Leadership::always`] when it is off). The task releases
/// the lease when `shutdown` is cancelled, so a standby takes over at once instead of after the lease expires.
pub async fn start(
    client: Client,
    args: &LeaderArgs,
    shutdown: CancellationToken,
) -> Result<(Leadership, Option<JoinHandle<()>>), LeaderError> {
    if !args.leader_elect {
        return Ok((Leadership::always(), None));
    }
    let (duration, grace) = (args.lease_duration_seconds, args.lease_grace_seconds);
    if grace == 0 || grace >= duration {
        return Err(LeaderError::Timing { duration, grace });
    }
    let manager = LeaseManagerBuilder::new(client, &args.lease_name)
        .with_namespace(&args.lease_namespace)
        .with_identity(&args.identity)
        .with_duration(duration)
        .with_grace(grace)
        .with_create_mode(LeaseCreateMode::AutoCreate)
        .build()
        .await
        .map_err(LeaderError::Manager)?;
    let (mut lease_rx, lease_task) = manager.watch().await;
    let (tx, rx) = watch::channel(*lease_rx.borrow());
    let identity = args.identity.clone();
    let task = tokio::spawn(async move {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                changed = lease_rx.changed() => {
                    if changed.is_err() {
                        tracing::error!("lease manager stopped; acting as a standby");
                        break;
                    }
                    let leader = *lease_rx.borrow_and_update();
                    tracing::info!(%identity, leader, "leadership changed");
                    let _ = tx.send(leader);
                }
            }
        }
        let _ = tx.send(false);
        // Dropping the receiver makes the manager release the lease and return.
        drop(lease_rx);
        match lease_task.await {
            Ok(Ok(_)) => tracing::info!("lease released"),
            Ok(Err(error)) => tracing::warn!(%error, "releasing the lease"),
            Err(error) => tracing::warn!(%error, "lease task failed"),
        }
    });
    Ok((Leadership { rx, _fixed: None }, Some(task)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn manual_leadership_follows_the_sender() {
        let (tx, mut leadership) = Leadership::manual(false);
        assert!(!leadership.is_leader());
        tx.send(true).expect("send");
        assert!(leadership.changed().await);
        assert!(leadership.is_leader());
        drop(tx);
        assert!(
            !leadership.changed().await,
            "a stopped elector means not leader"
        );
    }

    #[test]
    fn always_is_leader() {
        assert!(Leadership::always().is_leader());
    }
}
