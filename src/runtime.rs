//! The one process-global tokio runtime every exported async call runs on.
//!
//! Foreign callers (Swift tasks, Kotlin coroutines) poll the futures UniFFI
//! hands them; the real work is spawned here so timers, sockets and background
//! tasks (signalling, reconnect) all live on the same runtime whatever thread
//! the foreign side polls from.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::{Builder, Handle, Runtime};

use crate::error::UTDStreamError;

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("utd-stream")
            .enable_all()
            .build()
            // Without a runtime the SDK cannot do anything at all; the only way
            // this fails is the OS refusing to create threads.
            .expect("UTD Stream could not start its tokio runtime")
    })
}

/// A handle to the SDK runtime, for spawning background tasks.
pub fn handle() -> Handle {
    runtime().handle().clone()
}

/// Runs `future` on the SDK runtime and waits for it from any executor.
///
/// If the caller stops waiting (a cancelled Swift task or Kotlin coroutine),
/// the spawned work is aborted too, so cancellation reaches the network call.
pub async fn run<F, T>(future: F) -> Result<T, UTDStreamError>
where
    F: Future<Output = Result<T, UTDStreamError>> + Send + 'static,
    T: Send + 'static,
{
    match AbortOnDrop(runtime().spawn(future)).await {
        Ok(result) => result,
        Err(join_error) => Err(UTDStreamError::internal(format!(
            "SDK task failed: {join_error}"
        ))),
    }
}

/// A spawned task that is aborted when its waiter goes away.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> Future for AbortOnDrop<T> {
    type Output = Result<T, tokio::task::JoinError>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0).poll(cx)
    }
}
