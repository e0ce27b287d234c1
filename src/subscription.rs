//! `UTDSubscription`: what every `subscribe…` / `add…Listener` call returns.
//!
//! A foreign listener goes in, a handle comes out; `cancel()` stops delivery.
//! Dropping the handle does *not* cancel (a garbage-collected Kotlin handle
//! must not silently stop a listener); disposing the object that owns the
//! subscription ends it too.

use std::sync::Mutex;

type CancelFn = Box<dyn FnOnce() + Send>;

/// A live subscription. Call `cancel()` to stop receiving callbacks.
#[derive(uniffi::Object)]
pub struct UTDSubscription {
    on_cancel: Mutex<Option<CancelFn>>,
}

impl UTDSubscription {
    /// A subscription that runs `on_cancel` once, on the first `cancel()`.
    pub fn new(on_cancel: impl FnOnce() + Send + 'static) -> Self {
        Self {
            on_cancel: Mutex::new(Some(Box::new(on_cancel))),
        }
    }
}

#[uniffi::export]
impl UTDSubscription {
    /// Stops delivery. Idempotent: later calls do nothing. A callback that
    /// was already being delivered when `cancel()` ran may still complete.
    pub fn cancel(&self) {
        let on_cancel = match self.on_cancel.lock() {
            Ok(mut slot) => slot.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(on_cancel) = on_cancel {
            on_cancel();
        }
    }

    /// True once `cancel()` was called.
    pub fn is_cancelled(&self) -> bool {
        match self.on_cancel.lock() {
            Ok(slot) => slot.is_none(),
            Err(poisoned) => poisoned.into_inner().is_none(),
        }
    }
}

impl std::fmt::Debug for UTDSubscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UTDSubscription")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn cancel_runs_once() {
        let count = Arc::new(AtomicUsize::new(0));
        let c = count.clone();
        let sub = UTDSubscription::new(move || {
            c.fetch_add(1, Ordering::SeqCst);
        });
        assert!(!sub.is_cancelled());
        sub.cancel();
        sub.cancel();
        assert!(sub.is_cancelled());
        assert_eq!(count.load(Ordering::SeqCst), 1);
    }
}
