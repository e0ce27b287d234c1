//! Apps, plans, rate limits and bans.

use super::sql::{params, Conn, OptionalExtension, Row};
use super::DbError;
use crate::ids::now_ms;
use crate::plans::{LimitOverrides, Limits, Plan};

/// An app as stored (the server secret only as a hash, never loaded).
#[derive(Debug, Clone)]
pub struct AppRecord {
    /// Public app id.
    pub app_id: String,
    /// Human name.
    pub name: String,
    /// Publishable key.
    pub app_key: String,
    /// Subscription plan.
    pub plan: Plan,
    /// When false, capability flags and limits are reported as null.
    pub report_capabilities: bool,
    /// Admin override of the signaling flag.
    pub signaling_override: Option<bool>,
    /// Admin override of the messaging flag.
    pub messaging_override: Option<bool>,
    /// Admin overrides of the limits.
    pub limits_override: LimitOverrides,
    /// Token bucket size per user.
    pub per_user_per_minute: u32,
    /// Token bucket size per app.
    pub per_app_per_minute: u32,
    /// Creation time.
    pub created_at_ms: u64,
}

impl AppRecord {
    /// Effective signaling capability.
    pub fn signaling_enabled(&self) -> bool {
        self.signaling_override.unwrap_or(self.plan.signaling())
    }

    /// Effective chat capability.
    pub fn messaging_enabled(&self) -> bool {
        self.messaging_override.unwrap_or(self.plan.messaging())
    }

    /// Effective limits.
    pub fn limits(&self) -> Limits {
        self.limits_override.apply(self.plan.limits())
    }
}

pub(crate) const APP_COLUMNS: &str = "a.app_id, a.name, a.app_key, a.plan, a.report_capabilities, \
     a.signaling_override, a.messaging_override, a.limits_override, a.per_user_per_minute, \
     a.per_app_per_minute, a.created_at_ms";

/// Reads an app from a row whose first columns are [`APP_COLUMNS`].
pub(crate) fn app_from_row(row: &Row, offset: usize) -> Result<AppRecord, DbError> {
    let plan: String = row.get(offset + 3)?;
    let overrides: Option<String> = row.get(offset + 7)?;
    Ok(AppRecord {
        app_id: row.get(offset)?,
        name: row.get(offset + 1)?,
        app_key: row.get(offset + 2)?,
        plan: Plan::parse(&plan).unwrap_or(Plan::Free),
        report_capabilities: row.get(offset + 4)?,
        signaling_override: row.get(offset + 5)?,
        messaging_override: row.get(offset + 6)?,
        limits_override: overrides
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default(),
        per_user_per_minute: row.get(offset + 8)?,
        per_app_per_minute: row.get(offset + 9)?,
        created_at_ms: row.get::<_, i64>(offset + 10)? as u64,
    })
}

/// What `create_app` hands back once (the only place the secret exists).
#[derive(Debug, Clone)]
pub struct NewApp {
    /// Stored record.
    pub record: AppRecord,
    /// Plain server secret, for the admin only.
    pub server_secret: String,
}

/// Creates an app with fresh credentials.
pub fn create_app(
    conn: &Conn<'_>,
    name: &str,
    plan: Plan,
    per_user_per_minute: u32,
    per_app_per_minute: u32,
) -> Result<NewApp, DbError> {
    let app_key = crate::ids::new_app_key();
    let server_secret = crate::ids::new_server_secret();
    let created_at_ms = now_ms();
    // Ten random digits collide rarely; retry a few times instead of failing.
    for _ in 0..8 {
        let app_id = crate::ids::new_app_id();
        let inserted = conn.execute(
            "INSERT INTO apps (app_id, name, app_key, server_secret_sha256, plan,
                 report_capabilities, per_user_per_minute, per_app_per_minute, created_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?7, ?8)
             ON CONFLICT DO NOTHING",
            params![
                app_id,
                name,
                app_key,
                crate::ids::sha256_hex(&server_secret),
                plan.as_str(),
                per_user_per_minute,
                per_app_per_minute,
                created_at_ms as i64
            ],
        )?;
        if inserted == 1 {
            let record = get_app(conn, &app_id)?
                .ok_or_else(|| DbError::Task("app vanished after insert".into()))?;
            return Ok(NewApp {
                record,
                server_secret,
            });
        }
    }
    Err(DbError::Task("could not allocate an app id".into()))
}

/// Loads an app.
pub fn get_app(conn: &Conn<'_>, app_id: &str) -> Result<Option<AppRecord>, DbError> {
    conn.query_row(
        &format!("SELECT {APP_COLUMNS} FROM apps a WHERE a.app_id = ?1"),
        params![app_id],
        |r| app_from_row(r, 0),
    )
    .optional()
}

/// Changes an app's plan and overrides; returns false if the app is unknown.
pub fn set_plan(
    conn: &Conn<'_>,
    app_id: &str,
    plan: Plan,
    report_capabilities: bool,
    signaling_override: Option<bool>,
    messaging_override: Option<bool>,
    limits_override: &LimitOverrides,
) -> Result<bool, DbError> {
    let overrides = if *limits_override == LimitOverrides::default() {
        None
    } else {
        serde_json::to_string(limits_override).ok()
    };
    let n = conn.execute(
        "UPDATE apps SET plan = ?2, report_capabilities = ?3, signaling_override = ?4,
             messaging_override = ?5, limits_override = ?6 WHERE app_id = ?1",
        params![
            app_id,
            plan.as_str(),
            report_capabilities,
            signaling_override,
            messaging_override,
            overrides
        ],
    )?;
    Ok(n == 1)
}

/// Sets an app's rate limits; returns false if the app is unknown.
pub fn set_rate_limits(
    conn: &Conn<'_>,
    app_id: &str,
    per_user_per_minute: u32,
    per_app_per_minute: u32,
) -> Result<bool, DbError> {
    let n = conn.execute(
        "UPDATE apps SET per_user_per_minute = ?2, per_app_per_minute = ?3 WHERE app_id = ?1",
        params![app_id, per_user_per_minute, per_app_per_minute],
    )?;
    Ok(n == 1)
}

/// Bans an identity and revokes its sessions, atomically. Returns false if the
/// app is unknown.
pub fn ban(
    conn: &Conn<'_>,
    app_id: &str,
    identity: &str,
    reason: Option<&str>,
) -> Result<bool, DbError> {
    let exists: bool = conn
        .query_row(
            "SELECT 1 FROM apps WHERE app_id = ?1",
            params![app_id],
            |_| Ok(true),
        )
        .optional()?
        .unwrap_or(false);
    if !exists {
        return Ok(false);
    }
    let now = now_ms() as i64;
    conn.execute(
        "INSERT INTO bans (app_id, identity, reason, created_at_ms) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (app_id, identity) DO UPDATE SET reason = excluded.reason",
        params![app_id, identity, reason, now],
    )?;
    conn.execute(
        "UPDATE sessions SET revoked_at_ms = ?3, revoked_reason = 'banned'
         WHERE app_id = ?1 AND identity = ?2 AND revoked_at_ms IS NULL",
        params![app_id, identity, now],
    )?;
    Ok(true)
}

/// Lifts a ban; returns false if the app is unknown.
pub fn unban(conn: &Conn<'_>, app_id: &str, identity: &str) -> Result<bool, DbError> {
    if get_app(conn, app_id)?.is_none() {
        return Ok(false);
    }
    conn.execute(
        "DELETE FROM bans WHERE app_id = ?1 AND identity = ?2",
        params![app_id, identity],
    )?;
    Ok(true)
}

/// Whether the identity is banned in the app.
pub fn is_banned(conn: &Conn<'_>, app_id: &str, identity: &str) -> Result<bool, DbError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM bans WHERE app_id = ?1 AND identity = ?2",
            params![app_id, identity],
            |_| Ok(true),
        )
        .optional()?
        .unwrap_or(false))
}
