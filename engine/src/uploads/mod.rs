//! Uploads (docs/uploads-api.md): presigned S3 PUT / GET, completion checks
//! and the expiry sweep.

mod db;
mod presign;
mod routes;
mod sweep;

use axum::routing::{get, post};
use axum::Router;

use crate::state::AppState;

/// The upload routes, merged into the engine's router.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/uploads", post(routes::create))
        .route("/api/v1/uploads/{upload_id}", get(routes::get))
        .route(
            "/api/v1/uploads/{upload_id}/complete",
            post(routes::complete),
        )
}

/// Starts the uploads sweep (expired and purged uploads).
pub(crate) fn spawn_sweeps(state: &AppState) {
    sweep::spawn(state);
}
