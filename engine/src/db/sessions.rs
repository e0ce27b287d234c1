//! User sessions (bearer tokens, stored as SHA-256 only).

use super::sql::{params, Conn, OptionalExtension};

use super::apps::{app_from_row, AppRecord, APP_COLUMNS};
use super::DbError;
use crate::ids::now_ms;

/// A stored session.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    /// SHA-256 of the bearer.
    pub token_sha256: Vec<u8>,
    /// Owning app.
    pub app_id: String,
    /// User identity.
    pub identity: String,
    /// Display name given at mint.
    pub name: Option<String>,
    /// Device id given at mint.
    pub device_id: Option<String>,
    /// Expiry.
    pub expires_at_ms: u64,
    /// Revocation time, if revoked.
    pub revoked_at_ms: Option<u64>,
}

/// A session looked up by its bearer, with its app and ban state.
#[derive(Debug, Clone)]
pub struct SessionLookup {
    /// The session.
    pub session: SessionRecord,
    /// Its app.
    pub app: AppRecord,
    /// Whether the identity is banned right now.
    pub banned: bool,
}

/// Stores a new session for `token` (the caller generated it).
pub fn insert_session(
    conn: &Conn<'_>,
    token: &str,
    app_id: &str,
    identity: &str,
    name: Option<&str>,
    device_id: Option<&str>,
    ttl_ms: u64,
) -> Result<SessionRecord, DbError> {
    let now = now_ms();
    let record = SessionRecord {
        token_sha256: crate::ids::sha256(token),
        app_id: app_id.to_owned(),
        identity: identity.to_owned(),
        name: name.map(str::to_owned),
        device_id: device_id.map(str::to_owned),
        expires_at_ms: now.saturating_add(ttl_ms),
        revoked_at_ms: None,
    };
    // The host's display name (the latest one given) is part of the stage
    // state of the rooms they own: a new one is a change of those stages.
    let renamed =
        record.name.is_some() && super::seats::display_name(conn, app_id, identity)? != record.name;
    conn.execute(
        "INSERT INTO sessions (token_sha256, app_id, identity, name, device_id, created_at_ms,
             expires_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            record.token_sha256,
            record.app_id,
            record.identity,
            record.name,
            record.device_id,
            now as i64,
            record.expires_at_ms as i64
        ],
    )?;
    if renamed {
        super::versions::bump_stage_of_owner(conn, app_id, identity)?;
    }
    Ok(record)
}

/// Finds the session of a bearer hash, with its app and ban state.
pub fn lookup(conn: &Conn<'_>, token_sha256: &[u8]) -> Result<Option<SessionLookup>, DbError> {
    let sql = format!(
        "SELECT {APP_COLUMNS}, s.token_sha256, s.app_id, s.identity, s.name, s.device_id,
                s.expires_at_ms, s.revoked_at_ms,
                EXISTS (SELECT 1 FROM bans b WHERE b.app_id = s.app_id AND b.identity = s.identity)
         FROM sessions s JOIN apps a ON a.app_id = s.app_id
         WHERE s.token_sha256 = ?1"
    );
    conn.query_row(&sql, params![token_sha256], |r| {
        let app = app_from_row(r, 0)?;
        let o = 11;
        Ok(SessionLookup {
            app,
            session: SessionRecord {
                token_sha256: r.get(o)?,
                app_id: r.get(o + 1)?,
                identity: r.get(o + 2)?,
                name: r.get(o + 3)?,
                device_id: r.get(o + 4)?,
                expires_at_ms: r.get::<_, i64>(o + 5)? as u64,
                revoked_at_ms: r.get::<_, Option<i64>>(o + 6)?.map(|v| v as u64),
            },
            banned: r.get(o + 7)?,
        })
    })
    .optional()
}

/// Revokes one session (logout).
pub fn revoke(conn: &Conn<'_>, token_sha256: &[u8]) -> Result<(), DbError> {
    conn.execute(
        "UPDATE sessions SET revoked_at_ms = ?2, revoked_reason = 'logout'
         WHERE token_sha256 = ?1 AND revoked_at_ms IS NULL",
        params![token_sha256, now_ms() as i64],
    )?;
    Ok(())
}
