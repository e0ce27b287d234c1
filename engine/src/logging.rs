//! The engine's log: the operator's filter (`RUST_LOG`, default `info`) plus
//! one rule no filter can lift. The WebSocket, HTTP and TLS crates log whole
//! frames, headers and records at debug and trace level: message text and
//! bearer tokens would reach the log at `RUST_LOG=trace`. Their debug and
//! trace events are dropped; their info and above stay.

use std::io::Write;

use tracing::{Level, Metadata, Subscriber};
use tracing_subscriber::filter::{filter_fn, EnvFilter};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::Layer as _;

/// Crates whose verbose events carry frames, headers or records.
const WIRE_LOGGERS: &[&str] = &[
    "tungstenite",
    "tokio_tungstenite",
    "hyper",
    "hyper_util",
    "h2",
    "reqwest",
    "rustls",
];

/// False for a debug or trace event of a crate that logs what is on the
/// wire (see the module comment).
pub fn may_log(meta: &Metadata<'_>) -> bool {
    if *meta.level() <= Level::INFO {
        return true;
    }
    let target = meta.target();
    !WIRE_LOGGERS.iter().any(|krate| {
        target
            .strip_prefix(krate)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    })
}

/// The engine's subscriber: `filter` (an `EnvFilter` spec; `None` or an
/// invalid one means `info`), JSON lines unless `format` is `text`, written
/// to `writer`, with [`may_log`] applied on top.
pub fn subscriber<W>(format: &str, filter: Option<&str>, writer: W) -> impl Subscriber + Send + Sync
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = filter
        .and_then(|spec| EnvFilter::try_new(spec).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let layer = tracing_subscriber::fmt::layer().with_writer(writer);
    let layer = if format == "text" {
        layer.boxed()
    } else {
        layer.json().boxed()
    };
    tracing_subscriber::registry().with(layer.with_filter(filter).with_filter(filter_fn(may_log)))
}

/// A writer for tests and embedders that keeps what was logged in memory.
#[derive(Debug, Clone, Default)]
pub struct MemoryLog(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl MemoryLog {
    /// Everything written so far.
    pub fn contents(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl Write for MemoryLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for MemoryLog {
    type Writer = MemoryLog;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
