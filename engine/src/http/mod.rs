//! The REST surface: routes, request logging, the health check, and what
//! operators read (metrics, readiness).

pub mod admin;
pub mod auth;
pub mod calls;
pub mod errors;
pub mod extract;
pub(crate) mod ops;
pub(crate) mod parse_errors;
pub mod push;
pub(crate) mod room_caller;
pub mod seats;
pub(crate) mod serve;
pub mod session;
pub(crate) mod session_cache;
pub mod stage;
pub mod token;
pub mod webhook;

use std::time::Instant;

use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::state::AppState;

/// Builds the router with every implemented route. Designed-but-later routes
/// fall through to the 404 fallback, as an older engine would answer.
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/health", get(health))
        .route("/api/v1/ready", get(ops::ready))
        .route("/metrics", get(ops::metrics))
        .route(
            "/api/v1/auth/session",
            post(session::mint).delete(session::revoke),
        )
        .route("/api/v1/me", get(session::me))
        .route("/api/v1/token", post(token::mint))
        .route("/api/v1/calls", get(calls::list).post(calls::create))
        .route("/api/v1/calls/{call_id}", get(calls::get))
        .route("/api/v1/calls/{call_id}/ringing", post(calls::ringing))
        .route("/api/v1/calls/{call_id}/accept", post(calls::accept))
        .route("/api/v1/calls/{call_id}/reject", post(calls::reject))
        .route("/api/v1/calls/{call_id}/busy", post(calls::busy))
        .route("/api/v1/calls/{call_id}/cancel", post(calls::cancel))
        .route("/api/v1/calls/{call_id}/end", post(calls::end))
        .route(
            "/api/v1/devices/push-token",
            post(push::register).delete(push::unregister),
        )
        .route(
            "/api/v1/rooms/{room}/seats",
            get(seats::get).put(seats::setup),
        )
        .route("/api/v1/rooms/{room}/seats/leave", post(seats::leave))
        .route("/api/v1/rooms/{room}/seats/requests", post(seats::request))
        .route(
            "/api/v1/rooms/{room}/seats/requests/{request_id}/approve",
            post(seats::approve),
        )
        .route("/api/v1/rooms/{room}/seats/invite", post(seats::invite))
        .route("/api/v1/rooms/{room}/seats/{index}/take", post(seats::take))
        .route("/api/v1/rooms/{room}/stage", get(stage::get))
        .route("/api/v1/rooms/{room}/stage/invite", post(stage::invite))
        .route("/api/v1/rooms/{room}/stage/remove", post(stage::remove))
        .route("/api/v1/rooms/{room}/stage/request", post(stage::request))
        .route("/api/v1/rooms/{room}/stage/leave", post(stage::leave))
        .route("/api/v1/livekit/webhook", post(webhook::receive))
        .route("/api/v1/signal", get(crate::signal::ws_handler))
        .route("/admin/v1/apps", post(admin::create_app))
        .route("/admin/v1/apps/{app_id}", get(admin::get_app))
        .route("/admin/v1/apps/{app_id}/plan", put(admin::set_plan))
        .route("/admin/v1/apps/{app_id}/bans", post(admin::ban))
        .route(
            "/admin/v1/apps/{app_id}/bans/{identity}",
            delete(admin::unban),
        )
        .route(
            "/admin/v1/apps/{app_id}/rate-limits",
            put(admin::set_rate_limits),
        )
        .merge(crate::chat::routes())
        .merge(crate::uploads::routes())
        .fallback(errors::not_found_fallback)
        .method_not_allowed_fallback(errors::method_not_allowed_fallback)
        .layer(DefaultBodyLimit::max(extract::MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            ops::count_requests,
        ))
        .layer(middleware::from_fn(log_requests))
        .with_state(state)
}

/// `GET /api/v1/health`.
async fn health() -> Json<Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

/// One structured line per request: method, path (never the query or
/// headers, which could carry credentials), status and latency.
async fn log_requests(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let started = Instant::now();
    let response = next.run(req).await;
    tracing::info!(
        %method,
        path,
        status = response.status().as_u16(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "request"
    );
    response
}
