//! `Observable<T>`: a value the SDK owns and apps watch.
//!
//! Backed by `tokio::sync::watch`: readers get the latest value, and each
//! listener gets the current value first, then every change. Listeners are
//! called from an SDK runtime thread and should return quickly (platform
//! wrappers hand the value to an AsyncStream / StateFlow).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::watch;

use crate::runtime;
use crate::subscription::UTDSubscription;

/// A watched value.
#[derive(Debug)]
pub struct Observable<T> {
    sender: watch::Sender<T>,
}

impl<T: Clone + PartialEq + Send + Sync + 'static> Observable<T> {
    /// Starts with `initial`.
    pub fn new(initial: T) -> Self {
        Self {
            sender: watch::Sender::new(initial),
        }
    }

    /// The current value.
    pub fn get(&self) -> T {
        self.sender.borrow().clone()
    }

    /// Replaces the value; listeners hear of it only if it changed.
    pub fn set(&self, value: T) {
        self.sender.send_if_modified(|current| {
            if *current == value {
                false
            } else {
                *current = value;
                true
            }
        });
    }

    /// Edits the value in place; listeners hear of it only if it changed.
    pub fn update(&self, edit: impl FnOnce(&mut T)) {
        self.sender.send_if_modified(|current| {
            let before = current.clone();
            edit(current);
            *current != before
        });
    }

    /// A receiver for Rust callers (tests, other SDK parts).
    pub fn watch(&self) -> watch::Receiver<T> {
        self.sender.subscribe()
    }

    /// Calls `deliver` with the current value, then with each change, until
    /// the returned subscription is cancelled.
    pub fn subscribe(&self, deliver: impl Fn(T) + Send + Sync + 'static) -> UTDSubscription {
        let mut receiver = self.sender.subscribe();
        let cancelled = Arc::new(AtomicBool::new(false));
        let still_wanted = cancelled.clone();
        let task = runtime::handle().spawn(async move {
            let first = receiver.borrow_and_update().clone();
            deliver(first);
            while receiver.changed().await.is_ok() {
                let value = receiver.borrow_and_update().clone();
                if still_wanted.load(Ordering::Acquire) {
                    break;
                }
                deliver(value);
            }
        });
        UTDSubscription::new(move || {
            cancelled.store(true, Ordering::Release);
            task.abort();
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::time::Duration;

    #[test]
    fn delivers_current_value_first_then_changes_until_cancelled() {
        let observable = Observable::new(1);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let sub = observable.subscribe(move |v| sink.lock().map(|mut s| s.push(v)).unwrap_or(()));
        wait_for(|| seen.lock().map(|s| s.len() == 1).unwrap_or(false));
        observable.set(1); // unchanged: not delivered
        observable.set(2);
        wait_for(|| seen.lock().map(|s| s.len() == 2).unwrap_or(false));
        sub.cancel();
        observable.set(3);
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(*seen.lock().expect("lock"), vec![1, 2]);
    }

    fn wait_for(cond: impl Fn() -> bool) {
        for _ in 0..200 {
            if cond() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("condition not met in 2 s");
    }
}
