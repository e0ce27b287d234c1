//! The chat REST routes (chat-api.md). Each handler checks, in the order of
//! engine-api.md §1.2: the request (400) → the `chat` capability (403
//! feature_disabled) → the rest inside one transaction (403 forbidden, 404,
//! 409, and the plan limits as `403 limit_reached`).

use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use super::db::{self, Anchor, ConversationView, ListCursor, Member, Message, NewMessage, Receipt};
use super::{
    is_client_message_id, is_conversation_id, is_message_id, new_conversation_id, pushes,
    require_chat, retention_cutoff, run, typing, CHANGES_GAP, DEFAULT_LIST_PAGE, DEFAULT_PAGE,
    MAX_ATTACHMENTS, MAX_LIST_PAGE, MAX_MEMBERS_PER_REQUEST, MAX_PAGE, MAX_TEXT_CHARS,
    MAX_TITLE_CHARS,
};
use crate::http::auth::User;
use crate::http::errors::ApiError;
use crate::http::extract::{ApiPath, JsonBody};
use crate::http::session::validate_identity;
use crate::ids::{is_valid_text, now_ms};
use crate::state::AppState;

mod contacts;
mod conversations;
mod messages;

const CONV: &str = "/api/v1/chat/conversations/{conversation_id}";

/// The chat routes.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .merge(conversations::routes())
        .merge(messages::routes())
        .merge(contacts::routes())
}

/// A query string whose rejection is the contract's `400 invalid_argument`
/// (the query types deny unknown parameters).
struct ApiQuery<T>(T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|e| ApiError::invalid_argument(format!("invalid query: {}", e.body_text())))
    }
}

fn app_and_me(user: &User) -> (String, String) {
    (user.app.app_id.clone(), user.session.identity.clone())
}

/// A conversation id of the right shape; anything else names none (404).
fn conversation_id(id: &str) -> Result<String, ApiError> {
    if is_conversation_id(id) {
        Ok(id.to_owned())
    } else {
        Err(ApiError::not_found("no such conversation"))
    }
}

fn page_size(value: Option<u32>, default: u32, max: u32) -> Result<u32, ApiError> {
    match value {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::invalid_argument(format!(
            "limit must be 1..={max}"
        ))),
    }
}

/// A sequence number or counter of a query or body: 0..=2^63-1 (the
/// contract's int64; SQLite's integers).
fn counter(value: u64, name: &str) -> Result<u64, ApiError> {
    if i64::try_from(value).is_ok() {
        Ok(value)
    } else {
        Err(ApiError::invalid_argument(format!(
            "{name} must be 0..=9223372036854775807"
        )))
    }
}

fn check_title(title: &str) -> Result<(), ApiError> {
    if is_valid_text(title, MAX_TITLE_CHARS) {
        Ok(())
    } else {
        Err(ApiError::invalid_argument(format!(
            "title must be 1..={MAX_TITLE_CHARS} characters"
        )))
    }
}

fn check_text(text: &str) -> Result<(), ApiError> {
    if text.chars().count() <= MAX_TEXT_CHARS {
        Ok(())
    } else {
        Err(ApiError::invalid_argument(format!(
            "text must be at most {MAX_TEXT_CHARS} characters"
        )))
    }
}

/// Valid, distinct identities, in request order.
fn identities(list: &[String], what: &str) -> Result<Vec<String>, ApiError> {
    if list.len() > MAX_MEMBERS_PER_REQUEST {
        return Err(ApiError::invalid_argument(format!(
            "{what} holds at most {MAX_MEMBERS_PER_REQUEST} identities"
        )));
    }
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for identity in list {
        validate_identity(identity)?;
        if !out.contains(identity) {
            out.push(identity.clone());
        }
    }
    Ok(out)
}

fn encode_cursor(cursor: &ListCursor) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}.{}", cursor.0, cursor.1))
}

fn decode_cursor(value: &str) -> Result<ListCursor, ApiError> {
    let bad = || ApiError::invalid_argument("cursor is not one this engine handed out");
    let bytes = URL_SAFE_NO_PAD.decode(value).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (at, id) = text.split_once('.').ok_or_else(bad)?;
    let at: u64 = at.parse().map_err(|_| bad())?;
    if !is_conversation_id(id) {
        return Err(bad());
    }
    Ok((at, id.to_owned()))
}
