//! Watches kept as reflector stores: every component watches a few kinds, marks itself ready once each store
//! has its initial list, and some react to each applied object.

use std::fmt::Debug;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use kube::Resource;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use tokio_util::sync::CancellationToken;

use crate::admin::ReadinessHandle;

/// A callback run for every object a watch applies (initial list included).
pub type OnApply<K> = Arc<dyn Fn(&K) + Send + Sync>;

/// Runs `stream` (with kube's default backoff) into a store until `shutdown`; `ready` turns ready once the
/// initial list is in. Watch errors are logged and retried, never fatal.
pub fn spawn_reflector<K, S>(
    name: &'static str,
    stream: S,
    ready: ReadinessHandle,
    shutdown: CancellationToken,
    on_apply: Option<OnApply<K>>,
) -> Store<K>
where
    K: Resource + Clone + Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone + Send + Sync,
    S: Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static,
{
    let (store, writer) = reflector::store();
    let mut events = Box::pin(stream.default_backoff().reflect(writer));
    tokio::spawn(async move {
        loop {
            let event = tokio::select! {
                () = shutdown.cancelled() => break,
                event = events.next() => event,
            };
            match event {
                Some(Ok(watcher::Event::InitDone)) => {
                    ready.set_ready();
                    tracing::info!(watch = name, "synced");
                }
                Some(Ok(watcher::Event::Apply(obj) | watcher::Event::InitApply(obj))) => {
                    if let Some(f) = &on_apply {
                        f(&obj);
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => tracing::warn!(watch = name, %error, "watch error; retrying"),
                None => break,
            }
        }
    });
    store
}
