//! The node's counters and latency histograms, served as Prometheus text on
//! `/metrics` (docs/engine-api.md). One registry per engine (not a global),
//! so several engines in one test process keep their own numbers.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

type Labels = Vec<(&'static str, String)>;

#[derive(Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    total: u64,
}

#[derive(Default)]
struct Inner {
    counters: BTreeMap<(&'static str, Labels), u64>,
    histograms: BTreeMap<(&'static str, Labels), Histogram>,
}

/// Counters and histograms of one engine.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

/// A value computed when scraped (open sockets, ...).
pub struct Gauge {
    /// Metric name.
    pub name: &'static str,
    /// What it measures.
    pub help: &'static str,
    /// Its value now.
    pub value: f64,
}

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds `n` to a counter.
    pub fn count(&self, name: &'static str, labels: &[(&'static str, &str)], n: u64) {
        let key = (name, own(labels));
        *self.lock().counters.entry(key).or_default() += n;
    }

    /// Records one duration in a histogram.
    pub fn observe(&self, name: &'static str, labels: &[(&'static str, &str)], took: Duration) {
        let seconds = took.as_secs_f64();
        let mut inner = self.lock();
        let h = inner.histograms.entry((name, own(labels))).or_default();
        if h.counts.is_empty() {
            h.counts = vec![0; BUCKETS.len()];
        }
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                h.counts[i] += 1;
            }
        }
        h.sum += seconds;
        h.total += 1;
    }

    /// The current value of a counter (tests and benches).
    pub fn counter(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        self.lock()
            .counters
            .iter()
            .filter(|((n, l), _)| {
                *n == name
                    && l.len() == labels.len()
                    && l.iter()
                        .zip(labels)
                        .all(|((k, v), (k2, v2))| k == k2 && v == v2)
            })
            .map(|(_, v)| *v)
            .sum()
    }

    /// Everything in the Prometheus text exposition format.
    pub fn render(&self, gauges: &[Gauge]) -> String {
        let inner = self.lock();
        let mut out = String::new();
        for gauge in gauges {
            let _ = writeln!(out, "# HELP utd_{} {}", gauge.name, gauge.help);
            let _ = writeln!(out, "# TYPE utd_{} gauge", gauge.name);
            let _ = writeln!(out, "utd_{} {}", gauge.name, gauge.value);
        }
        let mut last = "";
        for ((name, labels), value) in &inner.counters {
            if *name != last {
                let _ = writeln!(out, "# TYPE utd_{name}_total counter");
                last = name;
            }
            let _ = writeln!(
                out,
                "utd_{name}_total{} {value}",
                render_labels(labels, None)
            );
        }
        last = "";
        for ((name, labels), h) in &inner.histograms {
            if *name != last {
                let _ = writeln!(out, "# TYPE utd_{name}_seconds histogram");
                last = name;
            }
            for (bound, count) in BUCKETS.iter().zip(&h.counts) {
                let le = bound.to_string();
                let _ = writeln!(
                    out,
                    "utd_{name}_seconds_bucket{} {count}",
                    render_labels(labels, Some(&le))
                );
            }
            let _ = writeln!(
                out,
                "utd_{name}_seconds_bucket{} {}",
                render_labels(labels, Some("+Inf")),
                h.total
            );
            let _ = writeln!(
                out,
                "utd_{name}_seconds_sum{} {}",
                render_labels(labels, None),
                h.sum
            );
            let _ = writeln!(
                out,
                "utd_{name}_seconds_count{} {}",
                render_labels(labels, None),
                h.total
            );
        }
        out
    }
}

fn own(labels: &[(&'static str, &str)]) -> Labels {
    labels.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
}

fn render_labels(labels: &Labels, le: Option<&str>) -> String {
    let mut parts: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    if let Some(le) = le {
        parts.push(format!("le=\"{le}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histograms_and_gauges_in_the_text_format() {
        let m = Metrics::default();
        m.count(
            "http_requests",
            &[("route", "/api/v1/me"), ("status", "200")],
            2,
        );
        m.count(
            "http_requests",
            &[("route", "/api/v1/me"), ("status", "200")],
            1,
        );
        m.observe(
            "livekit_call",
            &[("method", "CreateRoom")],
            Duration::from_millis(3),
        );
        let text = m.render(&[Gauge {
            name: "signal_sockets",
            help: "Open signal sockets on this node.",
            value: 4.0,
        }]);
        assert!(text.contains("utd_signal_sockets 4\n"), "{text}");
        assert!(
            text.contains("utd_http_requests_total{route=\"/api/v1/me\",status=\"200\"} 3\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "utd_livekit_call_seconds_bucket{method=\"CreateRoom\",le=\"0.005\"} 1\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "utd_livekit_call_seconds_bucket{method=\"CreateRoom\",le=\"0.001\"} 0\n"
            ),
            "{text}"
        );
        assert!(text.contains("utd_livekit_call_seconds_count{method=\"CreateRoom\"} 1\n"));
        assert_eq!(
            m.counter(
                "http_requests",
                &[("route", "/api/v1/me"), ("status", "200")]
            ),
            3
        );
        assert_eq!(escape("a\"b\\c"), "a\\\"b\\\\c");
    }
}
