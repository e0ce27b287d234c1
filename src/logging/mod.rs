//! Forwards the SDK's `tracing` events to app-provided log listeners.
//!
//! The app registers a [`UTDLogListener`] with a minimum level and gets a
//! [`UTDSubscription`] back. Events are redacted, queued on a bounded channel
//! and delivered in order on one dedicated thread, so a slow listener never
//! stalls the SDK's runtime and a listener that calls back into the SDK
//! cannot deadlock it. When the queue is full, records are dropped and the
//! next delivered record says how many were lost.

pub mod redact;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

use crate::subscription::UTDSubscription;

/// Severity of a log record, most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, uniffi::Enum)]
pub enum UTDLogLevel {
    /// Something failed.
    Error,
    /// Something unexpected that the SDK recovered from (e.g. a reconnect).
    Warn,
    /// Lifecycle milestones: connected, joined, call state changes.
    Info,
    /// Details useful when diagnosing a problem.
    Debug,
    /// Everything, including each message on the wire (redacted).
    Trace,
}

impl UTDLogLevel {
    fn from_tracing(level: &Level) -> Self {
        match *level {
            Level::ERROR => Self::Error,
            Level::WARN => Self::Warn,
            Level::INFO => Self::Info,
            Level::DEBUG => Self::Debug,
            _ => Self::Trace,
        }
    }

    fn rank(self) -> u8 {
        // Higher is more verbose; 0 means "nothing wanted".
        match self {
            Self::Error => 1,
            Self::Warn => 2,
            Self::Info => 3,
            Self::Debug => 4,
            Self::Trace => 5,
        }
    }
}

/// One log line from the SDK, already redacted.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UTDLogRecord {
    /// Severity.
    pub level: UTDLogLevel,
    /// The SDK module that logged it (e.g. `utd_stream::signalling`).
    pub target: String,
    /// The message followed by its structured fields as `key=value`.
    pub message: String,
    /// Milliseconds since the Unix epoch when it was logged.
    pub timestamp_ms: u64,
    /// Name of the SDK thread that logged it, when it has one.
    pub thread_name: Option<String>,
}

/// Receives the SDK's log records. Implemented by the app (Swift / Kotlin).
///
/// Called on one dedicated SDK thread, in order, never concurrently.
#[uniffi::export(with_foreign)]
pub trait UTDLogListener: Send + Sync {
    /// One record at or above the level the listener subscribed with.
    fn on_log(&self, record: UTDLogRecord);
}

/// Starts forwarding SDK log records at `min_level` or more severe to
/// `listener`. Several listeners may be active; each gets its own level.
#[uniffi::export]
pub fn subscribe_logs(
    min_level: UTDLogLevel,
    listener: Arc<dyn UTDLogListener>,
) -> Arc<UTDSubscription> {
    let hub = hub();
    let id = hub.next_id.fetch_add(1, Ordering::Relaxed);
    hub.with_listeners(|l| {
        l.insert(id, (min_level, listener));
    });
    hub.refresh_max_level();
    Arc::new(UTDSubscription::new(move || {
        let hub = self::hub();
        hub.with_listeners(|l| {
            l.remove(&id);
        });
        hub.refresh_max_level();
    }))
}

type ListenerMap = BTreeMap<u64, (UTDLogLevel, Arc<dyn UTDLogListener>)>;

/// Process-wide forwarding state behind the tracing layer.
struct Hub {
    listeners: Arc<Mutex<ListenerMap>>,
    next_id: AtomicU64,
    /// Most verbose level any listener wants (rank), 0 when none: lets the
    /// layer skip formatting events nobody will receive.
    max_rank: AtomicU8,
    queue: SyncSender<UTDLogRecord>,
    dropped: AtomicU64,
}

const QUEUE_CAPACITY: usize = 4096;

fn hub() -> &'static Hub {
    static HUB: OnceLock<Hub> = OnceLock::new();
    HUB.get_or_init(|| {
        let listeners: Arc<Mutex<ListenerMap>> = Arc::default();
        let (queue, records) = sync_channel::<UTDLogRecord>(QUEUE_CAPACITY);
        let delivery_listeners = listeners.clone();
        let spawned = std::thread::Builder::new()
            .name("utd-stream-log".into())
            .spawn(move || {
                for record in records {
                    // Snapshot so a listener may (un)subscribe from its callback.
                    let targets: Vec<_> = match delivery_listeners.lock() {
                        Ok(l) => l.values().cloned().collect(),
                        Err(p) => p.into_inner().values().cloned().collect(),
                    };
                    for (min_level, listener) in targets {
                        if record.level <= min_level {
                            listener.on_log(record.clone());
                        }
                    }
                }
            });
        if spawned.is_err() {
            // Logging is best effort: without the thread, records are dropped
            // at the full queue and nothing else in the SDK is affected.
            eprintln!("utd-stream: could not start the log delivery thread");
        }
        install_layer();
        Hub {
            listeners,
            next_id: AtomicU64::new(1),
            max_rank: AtomicU8::new(0),
            queue,
            dropped: AtomicU64::new(0),
        }
    })
}

impl Hub {
    fn with_listeners(&self, f: impl FnOnce(&mut ListenerMap)) {
        match self.listeners.lock() {
            Ok(mut l) => f(&mut l),
            Err(p) => f(&mut p.into_inner()),
        }
    }

    fn refresh_max_level(&self) {
        let mut max = 0;
        self.with_listeners(|l| {
            max = l.values().map(|(lvl, _)| lvl.rank()).max().unwrap_or(0);
        });
        self.max_rank.store(max, Ordering::Relaxed);
    }

    fn submit(&self, mut record: UTDLogRecord) {
        let lost = self.dropped.swap(0, Ordering::Relaxed);
        if lost > 0 {
            let _ = write!(
                record.message,
                " ({lost} earlier log records were dropped: listener too slow)"
            );
        }
        match self.queue.try_send(record) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(lost + 1, Ordering::Relaxed);
            }
        }
    }
}

/// Installs the forwarding layer as the global tracing subscriber. If the
/// host process already installed one (a Rust app embedding the crate), the
/// SDK leaves it alone and forwarding stays off.
fn install_layer() {
    let subscriber = tracing_subscriber::registry().with(ForwardLayer);
    if tracing::subscriber::set_global_default(subscriber).is_err() {
        eprintln!("utd-stream: a global tracing subscriber already exists; log forwarding is off");
    }
}

struct ForwardLayer;

impl<S: Subscriber> Layer<S> for ForwardLayer {
    fn register_callsite(
        &self,
        _metadata: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        // Listeners come and go at run time, so never let tracing cache a
        // yes/no per callsite: `enabled` decides each time (one atomic load).
        tracing::subscriber::Interest::sometimes()
    }

    fn enabled(&self, metadata: &tracing::Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        let rank = UTDLogLevel::from_tracing(metadata.level()).rank();
        rank <= hub().max_rank.load(Ordering::Relaxed)
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        let level = UTDLogLevel::from_tracing(meta.level());
        if level.rank() > hub().max_rank.load(Ordering::Relaxed) {
            return;
        }
        let mut text = MessageText::default();
        event.record(&mut text);
        let record = UTDLogRecord {
            level,
            target: meta.target().to_owned(),
            message: redact::redact(&text.finish()),
            timestamp_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
                .unwrap_or(0),
            thread_name: std::thread::current().name().map(str::to_owned),
        };
        hub().submit(record);
    }
}

#[derive(Default)]
struct MessageText {
    message: String,
    fields: String,
}

impl MessageText {
    fn finish(self) -> String {
        if self.fields.is_empty() {
            self.message
        } else if self.message.is_empty() {
            self.fields.trim_start().to_owned()
        } else {
            format!("{}{}", self.message, self.fields)
        }
    }
}

impl Visit for MessageText {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={}", field.name(), value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={:?}", field.name(), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    struct Collect(Mutex<mpsc::Sender<UTDLogRecord>>);

    impl UTDLogListener for Collect {
        fn on_log(&self, record: UTDLogRecord) {
            if let Ok(tx) = self.0.lock() {
                let _ = tx.send(record);
            }
        }
    }

    #[test]
    fn forwards_redacted_records_at_the_chosen_level_until_cancelled() {
        let (tx, rx) = mpsc::channel();
        let sub = subscribe_logs(UTDLogLevel::Info, Arc::new(Collect(Mutex::new(tx))));
        tracing::debug!(target: "utd_stream::test", "too verbose");
        tracing::info!(target: "utd_stream::test", user = "u1", "sent Bearer utdst_secret99");
        let record = rx
            .recv_timeout(Duration::from_secs(5))
            .expect("a forwarded record");
        assert_eq!(record.level, UTDLogLevel::Info);
        assert_eq!(record.message, "sent Bearer [redacted] user=u1");
        sub.cancel();
        tracing::info!(target: "utd_stream::test", "after cancel");
        assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
    }
}
