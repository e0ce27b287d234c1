//! Errors a test scripts a stand-in to answer: for one device token always,
//! or for the next few pushes to any token.

use std::collections::{HashMap, VecDeque};

/// Scripted failures of one stand-in; `E` is the answer (status and reason).
pub(crate) struct FailureScript<E> {
    per_token: HashMap<String, E>,
    /// `(pushes left, answer)`, consumed front to back.
    next: VecDeque<(usize, E)>,
}

impl<E: Clone> FailureScript<E> {
    pub(crate) fn new() -> Self {
        FailureScript {
            per_token: HashMap::new(),
            next: VecDeque::new(),
        }
    }

    /// Every later push to `token` answers `error`.
    pub(crate) fn fail_token(&mut self, token: &str, error: E) {
        self.per_token.insert(token.to_owned(), error);
    }

    /// The next `count` pushes answer `error` (queued after earlier
    /// `fail_next` scripts that are not used up yet).
    pub(crate) fn fail_next(&mut self, count: usize, error: E) {
        if count > 0 {
            self.next.push_back((count, error));
        }
    }

    /// The scripted answer for a push to `token` that passed every check, if
    /// any: a pending `fail_next` first (the service is failing whatever the
    /// token), then the token's own state. Consumes one `fail_next` use.
    pub(crate) fn take(&mut self, token: &str) -> Option<E> {
        if let Some((left, error)) = self.next.front_mut() {
            let error = error.clone();
            *left -= 1;
            if *left == 0 {
                self.next.pop_front();
            }
            return Some(error);
        }
        self.per_token.get(token).cloned()
    }
}
