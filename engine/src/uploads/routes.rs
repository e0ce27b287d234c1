//! `POST /uploads`, `POST /uploads/{id}/complete`, `GET /uploads/{id}`.
//!
//! Order of checks: uploads configured (404) → `chat` capability (403) →
//! arguments (400) → plan cap (403 limit_reached) → ownership (404).

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::db::{self, UploadRow};
use super::presign::{Store, StoreError};
use crate::http::auth::User;
use crate::http::errors::ApiError;
use crate::http::extract::{ApiPath, JsonBody};
use crate::ids::{now_ms, random_b64};
use crate::state::AppState;

/// The contract's content-type allow-list.
const ALLOWED_TYPES: &[&str] = &[
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "image/heic",
    "video/mp4",
    "video/quicktime",
    "audio/mpeg",
    "audio/mp4",
    "audio/aac",
    "audio/ogg",
    "application/pdf",
    "text/plain",
];

/// Longest `file_name`, in characters.
const MAX_FILE_NAME: usize = 255;

/// Body of `POST /uploads`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateRequest {
    content_type: String,
    size: u64,
    #[serde(default)]
    file_name: Option<String>,
}

/// The presigned PUT handed to the app.
#[derive(Debug, Serialize)]
pub(crate) struct PutView {
    url: String,
    method: &'static str,
    headers: BTreeMap<&'static str, String>,
    expires_at_ms: u64,
}

/// `201` of `POST /uploads`.
#[derive(Debug, Serialize)]
pub(crate) struct CreateResponse {
    upload: UploadRow,
    put: PutView,
}

/// A presigned GET.
#[derive(Debug, Serialize)]
pub(crate) struct GetView {
    url: String,
    expires_at_ms: u64,
}

/// `Upload`, with its download URL once ready.
#[derive(Debug, Serialize)]
pub(crate) struct UploadView {
    #[serde(flatten)]
    upload: UploadRow,
    #[serde(skip_serializing_if = "Option::is_none")]
    get: Option<GetView>,
}

/// The store, or 404 when uploads are not configured.
fn store(state: &AppState) -> Result<Store, ApiError> {
    let config = state
        .config
        .s3
        .as_ref()
        .ok_or_else(|| ApiError::not_found("uploads are not configured"))?;
    Store::new(config).map_err(store_failure)
}

fn store_failure(e: StoreError) -> ApiError {
    // The detail (a URL may hold a signature) stays in the log.
    tracing::error!(error = %e, "upload store failure");
    ApiError::internal("the upload store is unavailable")
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The gates every upload route shares.
fn gate(state: &AppState, user: &User) -> Result<Store, ApiError> {
    let store = store(state)?;
    crate::chat::require_chat(&user.app)?;
    Ok(store)
}

fn normalized_type(value: &str) -> Option<&'static str> {
    let value = value.trim();
    ALLOWED_TYPES
        .iter()
        .copied()
        .find(|t| t.eq_ignore_ascii_case(value))
}

fn check_file_name(name: Option<String>) -> Result<Option<String>, ApiError> {
    match name {
        None => Ok(None),
        Some(n) if n.is_empty() => Ok(None),
        Some(n) if n.chars().count() > MAX_FILE_NAME || n.chars().any(char::is_control) => Err(
            ApiError::invalid_argument("file_name: at most 255 characters, no control characters"),
        ),
        Some(n) => Ok(Some(n)),
    }
}

/// `POST /api/v1/uploads`.
pub(crate) async fn create(
    State(state): State<AppState>,
    user: User,
    JsonBody(req): JsonBody<CreateRequest>,
) -> Result<(StatusCode, Json<CreateResponse>), ApiError> {
    let store = gate(&state, &user)?;
    let content_type = normalized_type(&req.content_type).ok_or_else(|| {
        ApiError::invalid_argument(format!(
            "content_type not allowed; allowed: {}",
            ALLOWED_TYPES.join(", ")
        ))
    })?;
    if req.size == 0 {
        return Err(ApiError::invalid_argument("size must be at least 1 byte"));
    }
    let cap = u64::try_from(user.app.limits().max_upload_bytes).unwrap_or(0);
    if req.size > cap {
        return Err(ApiError::limit_reached(
            "max_upload_bytes",
            format!("uploads are limited to {cap} bytes on this plan"),
        ));
    }
    let file_name = check_file_name(req.file_name)?;
    let now = now_ms();
    let upload_id = format!("upl_{}", random_b64(16));
    let row = UploadRow {
        object_key: format!("{}/{}", user.app.app_id, upload_id),
        upload_id,
        app_id: user.app.app_id.clone(),
        owner_identity: user.session.identity.clone(),
        content_type: content_type.to_owned(),
        size: req.size,
        file_name,
        status: "pending".to_owned(),
        created_at_ms: now,
        expires_at_ms: now.saturating_add(ms(state.config.upload_pending_ttl)),
        completed_at_ms: None,
    };
    let stored = row.clone();
    state.db.call(move |c| db::insert(c, &stored)).await?;
    // Never valid past the upload's own expiry: a PUT after the sweep removed
    // the row would leave an object nobody owns.
    let validity = state
        .config
        .upload_put_validity
        .min(state.config.upload_pending_ttl);
    let url = store.presign_put(&row.object_key, content_type, row.size, validity);
    let headers = BTreeMap::from([
        ("content-type", content_type.to_owned()),
        ("content-length", row.size.to_string()),
    ]);
    let put = PutView {
        url,
        method: "PUT",
        headers,
        expires_at_ms: now.saturating_add(ms(validity)),
    };
    Ok((
        StatusCode::CREATED,
        Json(CreateResponse { upload: row, put }),
    ))
}

async fn load(state: &AppState, user: &User, upload_id: String) -> Result<UploadRow, ApiError> {
    let app_id = user.app.app_id.clone();
    state
        .db
        .call(move |c| db::get(c, &app_id, &upload_id))
        .await?
        .ok_or_else(|| ApiError::not_found("no such upload"))
}

/// `POST /api/v1/uploads/{upload_id}/complete`.
pub(crate) async fn complete(
    State(state): State<AppState>,
    user: User,
    ApiPath(upload_id): ApiPath<String>,
) -> Result<Json<UploadRow>, ApiError> {
    let store = gate(&state, &user)?;
    let row = load(&state, &user, upload_id).await?;
    // Someone else's upload is not even acknowledged to exist.
    if row.owner_identity != user.session.identity {
        return Err(ApiError::not_found("no such upload"));
    }
    if row.status == "ready" {
        return Ok(Json(row));
    }
    let now = now_ms();
    if row.expires_at_ms <= now {
        return Err(ApiError::invalid_state("the upload expired"));
    }
    let found = store.head(&row.object_key).await.map_err(store_failure)?;
    let Some(found) = found else {
        return Err(ApiError::invalid_state("nothing uploaded yet"));
    };
    let same_type = found
        .content_type
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case(&row.content_type));
    if found.size != row.size || !same_type {
        // A wrong object must not linger: the next PUT (while the URL is
        // valid) starts from nothing.
        store.delete(&row.object_key).await.map_err(store_failure)?;
        return Err(ApiError::invalid_state(format!(
            "the uploaded object does not match the upload (expected {} bytes of {}, found {} bytes of {:?})",
            row.size, row.content_type, found.size, found.content_type
        )));
    }
    let id = row.upload_id.clone();
    state.db.call(move |c| db::mark_ready(c, &id, now)).await?;
    // Re-read: a concurrent complete may have won; either way it is ready.
    let row = load(&state, &user, row.upload_id).await?;
    Ok(Json(row))
}

/// `GET /api/v1/uploads/{upload_id}`.
pub(crate) async fn get(
    State(state): State<AppState>,
    user: User,
    ApiPath(upload_id): ApiPath<String>,
) -> Result<Json<UploadView>, ApiError> {
    let store = gate(&state, &user)?;
    let row = load(&state, &user, upload_id).await?;
    if row.owner_identity != user.session.identity {
        let (app_id, id, identity) = (
            row.app_id.clone(),
            row.upload_id.clone(),
            user.session.identity.clone(),
        );
        let member = state
            .db
            .call(move |c| db::readable_by_member(c, &app_id, &id, &identity))
            .await?;
        if !member {
            return Err(ApiError::not_found("no such upload"));
        }
    }
    let get = (row.status == "ready").then(|| {
        let validity = state.config.upload_get_validity;
        GetView {
            url: store.presign_get(&row.object_key, validity),
            expires_at_ms: now_ms().saturating_add(ms(validity)),
        }
    });
    Ok(Json(UploadView { upload: row, get }))
}
