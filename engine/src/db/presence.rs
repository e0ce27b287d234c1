//! Persisted "last seen" times, so presence survives engine restarts.

use super::sql::{params, Conn, OptionalExtension};

use super::DbError;

/// Records when a user's last connection closed.
pub fn set_last_seen(
    conn: &Conn<'_>,
    app_id: &str,
    identity: &str,
    at_ms: u64,
) -> Result<(), DbError> {
    conn.execute(
        "INSERT INTO presence (app_id, identity, last_seen_ms) VALUES (?1, ?2, ?3)
         ON CONFLICT (app_id, identity) DO UPDATE SET last_seen_ms = excluded.last_seen_ms",
        params![app_id, identity, at_ms as i64],
    )?;
    Ok(())
}

/// Last-seen times of the given identities (absent: never seen).
pub fn last_seen(
    conn: &Conn<'_>,
    app_id: &str,
    identities: &[String],
) -> Result<Vec<(String, Option<u64>)>, DbError> {
    let mut out = Vec::with_capacity(identities.len());
    for identity in identities {
        let at: Option<i64> = conn
            .query_row(
                "SELECT last_seen_ms FROM presence WHERE app_id = ?1 AND identity = ?2",
                params![app_id, identity],
                |r| r.get(0),
            )
            .optional()?;
        out.push((identity.clone(), at.map(|v| v as u64)));
    }
    Ok(out)
}
