//! The signal WebSocket: `GET /api/v1/signal`.

pub mod connection;
pub mod hub;
pub mod protocol;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{State, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use crate::http::auth::bearer;
use crate::http::errors::ApiError;
use crate::state::AppState;

/// Largest accepted client message; a bigger one closes the socket with
/// 1009 (message too big).
pub const MAX_CLIENT_MESSAGE: usize = 64 * 1024;
/// What the WebSocket layer reads at most. Above `MAX_CLIENT_MESSAGE` so an
/// oversized message is read whole and refused with a close frame: refused
/// mid-frame, its unread rest would turn the TCP close into a reset and the
/// client would never see why.
const MAX_READ: usize = 1024 * 1024;
/// The socket's read chunk. The WebSocket layer's default (128 KiB) is
/// allocated per connection up front: with thousands of idle signal sockets
/// it was most of the engine's memory. Signal messages are small.
const READ_BUFFER: usize = 4 * 1024;

/// Upgrades, then authenticates on the socket so that every failure reaches
/// the client as a close code it can act on (HTTP statuses on a refused
/// upgrade are invisible to many WebSocket clients).
pub async fn ws_handler(
    State(state): State<AppState>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let ws = match ws {
        Ok(ws) => ws,
        Err(_) => {
            return ApiError::invalid_argument("expected a WebSocket upgrade request")
                .into_response()
        }
    };
    let token = bearer(&headers);
    let guard = state.tracker.token();
    ws.max_message_size(MAX_READ)
        .max_frame_size(MAX_READ)
        .read_buffer_size(READ_BUFFER)
        .on_upgrade(move |socket| async move {
            connection::run(state, socket, token).await;
            drop(guard);
        })
}
