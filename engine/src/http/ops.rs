//! What operators and load balancers read: `/metrics` (Prometheus text),
//! `/api/v1/ready` (the database and Redis answer), and the per-route
//! request counters behind the first.

use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::metrics::Gauge;
use crate::state::AppState;

/// How long readiness waits for each dependency.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /metrics`: this node's counters, latencies and gauges.
pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    let gauges = [
        Gauge {
            name: "signal_sockets",
            help: "Open signal WebSockets on this node.",
            value: state.hub.connection_count() as f64,
        },
        Gauge {
            name: "signal_users",
            help: "Users with at least one signal WebSocket on this node.",
            value: state.hub.local_users().len() as f64,
        },
    ];
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(&gauges),
    )
        .into_response()
}

/// `GET /api/v1/ready`: 200 when the database (and, on a cluster node,
/// Redis) answers within two seconds, else 503 naming what does not.
pub(crate) async fn ready(State(state): State<AppState>) -> Response {
    let database = tokio::time::timeout(
        READY_TIMEOUT,
        state.db.call(|c| {
            c.query_row("SELECT 1", crate::db::sql::params![], |r| {
                r.get::<_, i64>(0)
            })
        }),
    )
    .await;
    let database = match database {
        Ok(Ok(_)) => "ok".to_owned(),
        Ok(Err(e)) => format!("failing: {e}"),
        Err(_) => "timeout".to_owned(),
    };
    let redis = match state.hub.cluster() {
        None => None,
        Some(link) => Some(
            match tokio::time::timeout(
                READY_TIMEOUT,
                redis::cmd("PING").query_async::<String>(&mut link.bus.commands()),
            )
            .await
            {
                Ok(Ok(_)) => "ok".to_owned(),
                Ok(Err(e)) => format!("failing: {e}"),
                Err(_) => "timeout".to_owned(),
            },
        ),
    };
    let ready = database == "ok" && redis.as_deref().is_none_or(|r| r == "ok");
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "database": database,
    });
    if let Some(redis) = redis {
        body["redis"] = json!(redis);
    }
    (status, Json(body)).into_response()
}

/// Counts every request by route template and status, and times it.
pub(crate) async fn count_requests(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    // The template (`/api/v1/calls/{call_id}`), never the concrete path:
    // bounded label values, and no ids in the metrics.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    state.metrics.count(
        "http_requests",
        &[("route", &route), ("status", &status)],
        1,
    );
    state
        .metrics
        .observe("http_request", &[("route", &route)], started.elapsed());
    response
}
