//! The `uploads` table (migration 0006) and the membership check of reads.

use serde::Serialize;

use crate::db::sql::{params, Conn, OptionalExtension as _, Row};
use crate::db::DbError;

/// One upload as stored (the wire `Upload` plus what only the engine needs).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct UploadRow {
    /// `upl_<22 base64url>`.
    pub upload_id: String,
    /// The app it belongs to.
    #[serde(skip)]
    pub app_id: String,
    /// Who created it.
    pub owner_identity: String,
    /// The declared (and signed) content type.
    pub content_type: String,
    /// The declared (and signed) size in bytes.
    pub size: u64,
    /// Optional display name.
    pub file_name: Option<String>,
    /// Key in the bucket (`<app_id>/<upload_id>`).
    #[serde(skip)]
    pub object_key: String,
    /// `pending` or `ready` (`purge` rows are never returned).
    pub status: String,
    /// Creation time.
    pub created_at_ms: u64,
    /// When a pending upload expires.
    #[serde(skip)]
    pub expires_at_ms: u64,
    /// When `complete` saw the object.
    pub completed_at_ms: Option<u64>,
}

const COLUMNS: &str = "upload_id, app_id, owner_identity, content_type, size, file_name, \
                       object_key, status, created_at_ms, expires_at_ms, completed_at_ms";

fn from_row(row: &Row) -> Result<UploadRow, DbError> {
    Ok(UploadRow {
        upload_id: row.get(0)?,
        app_id: row.get(1)?,
        owner_identity: row.get(2)?,
        content_type: row.get(3)?,
        size: row.get(4)?,
        file_name: row.get(5)?,
        object_key: row.get(6)?,
        status: row.get(7)?,
        created_at_ms: row.get(8)?,
        expires_at_ms: row.get(9)?,
        completed_at_ms: row.get(10)?,
    })
}

/// A `u64` as the signed integer both databases store (saturating).
fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Stores a new pending upload.
pub(crate) fn insert(conn: &Conn<'_>, upload: &UploadRow) -> Result<(), DbError> {
    conn.execute(
        "INSERT INTO uploads (upload_id, app_id, owner_identity, content_type, size, file_name, \
         object_key, status, created_at_ms, expires_at_ms, completed_at_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            upload.upload_id,
            upload.app_id,
            upload.owner_identity,
            upload.content_type,
            int(upload.size),
            upload.file_name,
            upload.object_key,
            upload.status,
            int(upload.created_at_ms),
            int(upload.expires_at_ms),
            upload.completed_at_ms.map(int),
        ],
    )?;
    Ok(())
}

/// An upload of the app that is not marked for purge.
pub(crate) fn get(
    conn: &Conn<'_>,
    app_id: &str,
    upload_id: &str,
) -> Result<Option<UploadRow>, DbError> {
    conn.query_row(
        &format!(
            "SELECT {COLUMNS} FROM uploads \
                 WHERE app_id = ?1 AND upload_id = ?2 AND status <> 'purge'"
        ),
        params![app_id, upload_id],
        from_row,
    )
    .optional()
}

/// Marks a pending upload ready; returns the row as it is now.
pub(crate) fn mark_ready(conn: &Conn<'_>, upload_id: &str, now_ms: u64) -> Result<bool, DbError> {
    let changed = conn.execute(
        "UPDATE uploads SET status = 'ready', completed_at_ms = ?2 \
         WHERE upload_id = ?1 AND status = 'pending'",
        params![upload_id, int(now_ms)],
    )?;
    Ok(changed == 1)
}

/// Whether `identity` is a member of a conversation holding a message that
/// attaches the upload (uploads.message_id → chat_messages → chat_members).
pub(crate) fn readable_by_member(
    conn: &Conn<'_>,
    app_id: &str,
    upload_id: &str,
    identity: &str,
) -> Result<bool, DbError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM uploads u \
             JOIN chat_messages m ON m.message_id = u.message_id \
             JOIN chat_members cm ON cm.conversation_id = m.conversation_id \
             WHERE u.upload_id = ?1 AND u.app_id = ?2 AND cm.identity = ?3 \
               AND m.deleted = 0",
            params![upload_id, app_id, identity],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// Up to `limit` uploads to sweep: `purge` rows and pending rows past expiry.
/// Returns (upload_id, object_key).
pub(crate) fn sweepable(
    conn: &Conn<'_>,
    now_ms: u64,
    limit: u32,
) -> Result<Vec<(String, String)>, DbError> {
    conn.query_map(
        "SELECT upload_id, object_key FROM uploads \
         WHERE status = 'purge' OR (status = 'pending' AND expires_at_ms <= ?1) \
         LIMIT ?2",
        params![int(now_ms), limit],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// Deletes a swept row, unless it was completed meanwhile (a pending row
/// whose object is gone must not take a now-ready upload with it).
pub(crate) fn delete_swept(conn: &Conn<'_>, upload_id: &str, now_ms: u64) -> Result<(), DbError> {
    conn.execute(
        "DELETE FROM uploads WHERE upload_id = ?1 \
         AND (status = 'purge' OR (status = 'pending' AND expires_at_ms <= ?2))",
        params![upload_id, int(now_ms)],
    )?;
    Ok(())
}
