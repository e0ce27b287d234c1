//! What a stand-in accepted, in arrival order, and waiting for it to arrive.

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::watch;

/// An append-only log that tests can wait on.
pub(crate) struct Recorder<T> {
    items: Mutex<Vec<T>>,
    /// Bumped after every append, so waiters wake without polling.
    version: watch::Sender<u64>,
}

impl<T: Clone> Recorder<T> {
    pub(crate) fn new() -> Self {
        Recorder {
            items: Mutex::new(Vec::new()),
            version: watch::Sender::new(0),
        }
    }

    /// Appends `item` and wakes every waiter.
    pub(crate) fn record(&self, item: T) {
        lock(&self.items).push(item);
        self.version.send_modify(|v| *v += 1);
    }

    /// Everything recorded so far, in arrival order.
    pub(crate) fn snapshot(&self) -> Vec<T> {
        lock(&self.items).clone()
    }

    /// Waits until at least `count` items are recorded and returns them all;
    /// on timeout returns what did arrive as the error.
    pub(crate) async fn wait_for(&self, count: usize, timeout: Duration) -> Result<Vec<T>, Vec<T>> {
        // Subscribing marks the current version seen: an append after this
        // point wakes `changed`, one before it is visible to the check below.
        let mut changes = self.version.subscribe();
        let waited = tokio::time::timeout(timeout, async {
            loop {
                {
                    let items = lock(&self.items);
                    if items.len() >= count {
                        return items.clone();
                    }
                }
                if changes.changed().await.is_err() {
                    // The sender lives as long as `self`; unreachable, but
                    // never spin.
                    std::future::pending::<()>().await;
                }
            }
        })
        .await;
        waited.map_err(|_| self.snapshot())
    }
}

/// Locks `mutex`, shrugging off poisoning: a panicking test thread must not
/// turn every later assertion into a second, misleading panic.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
