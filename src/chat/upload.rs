//! One attachment's upload, resumable (docs/uploads-api.md): presign → PUT
//! → complete, each step saved in the store so a restart continues where
//! the last run stopped. A PUT URL that expired (or that the store refuses)
//! is replaced by a new presign: the engine has no route to re-sign an
//! existing upload, and the abandoned one expires there by itself.

use std::collections::BTreeMap;

use super::store::StoredAttachment;
use super::ChatInner;
use crate::api::credentials::BearerToken;
use crate::api::uploads::PresignedPut;
use crate::error::{UTDErrorCode, UTDStreamError};

/// A PUT URL closer to its expiry than this is not started.
const EXPIRY_MARGIN_MS: u64 = 30_000;
/// Fresh starts allowed per attempt before giving up for this pass.
const MAX_RESTARTS: usize = 3;

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn forget(a: &mut StoredAttachment) {
    a.upload_id = None;
    a.put = None;
    a.uploaded = false;
}

pub(super) async fn upload(
    inner: &ChatInner,
    bearer: &BearerToken,
    client_message_id: &str,
    a: &mut StoredAttachment,
) -> Result<(), UTDStreamError> {
    let api = &inner.auth.api;
    for _ in 0..MAX_RESTARTS {
        let usable = a
            .put
            .as_ref()
            .is_some_and(|(_, _, expires)| *expires > now_ms() + EXPIRY_MARGIN_MS);
        if a.upload_id.is_none() || (!a.uploaded && !usable) {
            let created = api
                .create_upload(bearer, &a.content_type, a.size, a.file_name.as_deref())
                .await?;
            let headers = serde_json::to_string(&created.put.headers)
                .map_err(|e| UTDStreamError::internal(format!("presign not storable: {e}")))?;
            a.upload_id = Some(created.upload.upload_id);
            a.put = Some((created.put.url, headers, created.put.expires_at_ms));
            a.uploaded = false;
            inner.store.save_attachment(client_message_id, a)?;
        }
        if !a.uploaded {
            let Some((url, headers, expires)) = a.put.clone() else {
                forget(a);
                continue;
            };
            let headers: BTreeMap<String, String> =
                serde_json::from_str(&headers).unwrap_or_default();
            let put = PresignedPut {
                url,
                headers,
                expires_at_ms: expires,
            };
            let path = a.path.clone();
            let bytes = tokio::task::spawn_blocking(move || std::fs::read(path))
                .await
                .map_err(|e| UTDStreamError::internal(format!("attachment read failed: {e}")))?
                .map_err(|e| {
                    UTDStreamError::invalid_argument(format!("the attachment is gone: {e}"))
                })?;
            match api.put_object(&put, bytes).await {
                Ok(()) => {
                    a.uploaded = true;
                    inner.store.save_attachment(client_message_id, a)?;
                }
                Err(e) if e.code() == UTDErrorCode::Forbidden => {
                    // Expired or no longer valid: a new presign helps.
                    forget(a);
                    inner.store.save_attachment(client_message_id, a)?;
                    continue;
                }
                Err(e) => return Err(e),
            }
        }
        let Some(upload_id) = a.upload_id.clone() else {
            continue;
        };
        match api.complete_upload(bearer, &upload_id).await {
            Ok(_) => {
                a.ready = true;
                inner.store.save_attachment(client_message_id, a)?;
                return Ok(());
            }
            // Swept (expired) on the engine, or the object is missing or
            // wrong: start again.
            Err(e)
                if matches!(
                    e.code(),
                    UTDErrorCode::NotFound | UTDErrorCode::InvalidState | UTDErrorCode::Conflict
                ) =>
            {
                forget(a);
                inner.store.save_attachment(client_message_id, a)?;
            }
            Err(e) => return Err(e),
        }
    }
    Err(UTDStreamError::new(
        UTDErrorCode::Server,
        "the attachment could not be uploaded; trying again later",
    ))
}
