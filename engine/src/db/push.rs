//! Push tokens of users' devices (dispatch is gated on APNS_*/FCM_* config).

use rusqlite::{params, Connection};

use super::DbError;
use crate::ids::now_ms;

/// Registers (or moves to this user) a device push token.
pub fn register(
    conn: &Connection,
    app_id: &str,
    identity: &str,
    platform: &str,
    token: &str,
    device_id: Option<&str>,
) -> Result<(), DbError> {
    conn.execute(
        "INSERT INTO push_tokens (app_id, token, identity, platform, device_id, updated_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (app_id, token) DO UPDATE SET identity = excluded.identity,
             platform = excluded.platform, device_id = excluded.device_id,
             updated_at_ms = excluded.updated_at_ms",
        params![
            app_id,
            token,
            identity,
            platform,
            device_id,
            now_ms() as i64
        ],
    )?;
    Ok(())
}

/// Removes a token if it belongs to this user.
pub fn unregister(
    conn: &Connection,
    app_id: &str,
    identity: &str,
    token: &str,
) -> Result<(), DbError> {
    conn.execute(
        "DELETE FROM push_tokens WHERE app_id = ?1 AND identity = ?2 AND token = ?3",
        params![app_id, identity, token],
    )?;
    Ok(())
}
