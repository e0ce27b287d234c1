//! The push outbox (`push_outbox`, `push_deliveries`): queueing,
//! claiming by lease, and what each outcome does to the rows.

use crate::db::sql::{params, Conn, Row};

use crate::chat::db::PushContext;
use crate::db::calls::{self, CallRecord};
use crate::db::DbError;

/// A call push (rings the device).
pub const KIND_CALL: &str = "call";
/// The end of a call's ringing (FCM only).
pub const KIND_CALL_ENDED: &str = "call_ended";
/// A message notification of chat (APNs alert / FCM notification).
pub const KIND_CHAT_MESSAGE: &str = "chat_message";
/// `platform` of APNs VoIP tokens.
pub const APNS_VOIP: &str = "apns_voip";
/// `platform` of regular APNs tokens (alerts: chat notifications).
pub const APNS: &str = "apns";
/// `platform` of FCM tokens.
pub const FCM: &str = "fcm";

/// A row to queue.
#[derive(Debug, Clone)]
pub struct NewPush<'a> {
    pub app_id: &'a str,
    pub call_id: &'a str,
    pub kind: &'a str,
    pub platform: &'a str,
    pub token: &'a str,
    pub device_id: Option<&'a str>,
    pub reason: Option<&'a str>,
    pub expires_at_ms: u64,
}

/// Queues a push, due now. False when the same (call, kind, token) is
/// already queued.
pub fn enqueue(conn: &Conn<'_>, push: &NewPush<'_>, now: u64) -> Result<bool, DbError> {
    let n = conn.execute(
        "INSERT INTO push_outbox (app_id, call_id, kind, platform, token, device_id,
             reason, created_at_ms, expires_at_ms, next_attempt_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?8)
         ON CONFLICT DO NOTHING",
        params![
            push.app_id,
            push.call_id,
            push.kind,
            push.platform,
            push.token,
            push.device_id,
            push.reason,
            now as i64,
            push.expires_at_ms as i64,
        ],
    )?;
    Ok(n > 0)
}

/// Queues the notification of chat message `message_id` for `recipient`
/// to one of its tokens, due now (`call_id` holds the message id). False
/// when it is queued already.
#[allow(clippy::too_many_arguments)]
pub fn enqueue_chat(
    conn: &Conn<'_>,
    app_id: &str,
    message_id: &str,
    platform: &str,
    token: &str,
    device_id: Option<&str>,
    recipient: &str,
    expires_at_ms: u64,
    now: u64,
) -> Result<bool, DbError> {
    let n = conn.execute(
        "INSERT INTO push_outbox (app_id, call_id, kind, platform, token, device_id,
             recipient_identity, created_at_ms, expires_at_ms, next_attempt_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?8)
         ON CONFLICT DO NOTHING",
        params![
            app_id,
            message_id,
            KIND_CHAT_MESSAGE,
            platform,
            token,
            device_id,
            recipient,
            now as i64,
            expires_at_ms as i64,
        ],
    )?;
    Ok(n > 0)
}

/// A registered token: (platform, token, device_id).
pub type TokenRow = (String, String, Option<String>);

/// The tokens of `identity` on the given platforms, oldest registration first.
pub fn tokens_of(
    conn: &Conn<'_>,
    app_id: &str,
    identity: &str,
    platforms: &[&str],
) -> Result<Vec<TokenRow>, DbError> {
    let rows: Vec<TokenRow> = conn.query_map(
        "SELECT platform, token, device_id FROM push_tokens
         WHERE app_id = ?1 AND identity = ?2 ORDER BY updated_at_ms, token",
        params![app_id, identity],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    Ok(rows
        .into_iter()
        .filter(|row| platforms.contains(&row.0.as_str()))
        .collect())
}

/// A claimed row, with what its payload needs.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub push_id: i64,
    pub app_id: String,
    pub call_id: String,
    pub kind: String,
    pub platform: String,
    pub token: String,
    pub device_id: Option<String>,
    pub reason: Option<String>,
    pub expires_at_ms: u64,
    /// Attempts so far, this one included.
    pub attempts: u32,
    /// The call (for a call push: still pending when claimed).
    pub call: Option<CallRecord>,
    /// What a chat notification shows (read when claimed).
    pub chat: Option<PushContext>,
}

/// A row deleted unsent by [`claim_due`].
#[derive(Debug, Clone)]
pub struct Dropped {
    pub call_id: String,
    pub kind: String,
    pub platform: String,
    pub token: String,
    pub attempts: u32,
    /// `expired` (past its deadline), `call_over`, or `message_moot` (a chat
    /// message deleted, read or out of retention meanwhile).
    pub why: &'static str,
}

/// What [`claim_due`] did.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// Rows leased to the caller, to be sent now.
    pub claimed: Vec<Claimed>,
    /// Rows deleted instead.
    pub dropped: Vec<Dropped>,
    /// When the next row (leased or not) may be due; `None`: the outbox is empty.
    pub next_due_ms: Option<u64>,
}

struct Candidate {
    push_id: i64,
    app_id: String,
    call_id: String,
    kind: String,
    platform: String,
    token: String,
    device_id: Option<String>,
    reason: Option<String>,
    expires_at_ms: u64,
    attempts: u32,
    recipient: Option<String>,
}

fn candidate(r: &Row) -> Result<Candidate, DbError> {
    Ok(Candidate {
        push_id: r.get(0)?,
        app_id: r.get(1)?,
        call_id: r.get(2)?,
        kind: r.get(3)?,
        platform: r.get(4)?,
        token: r.get(5)?,
        device_id: r.get(6)?,
        reason: r.get(7)?,
        expires_at_ms: r.get::<_, i64>(8)? as u64,
        attempts: r.get::<_, i64>(9)? as u32,
        recipient: r.get(10)?,
    })
}

/// In the caller's transaction: takes up to `limit` due rows whose lease is free,
/// leasing each to `owner` until `now + lease_ms` by a conditional update
/// (another engine sharing the table cannot take it meanwhile). Due rows past
/// their deadline, and call pushes of a call that is no longer ringing, are
/// deleted instead.
pub fn claim_due(
    conn: &Conn<'_>,
    owner: &str,
    now: u64,
    lease_ms: u64,
    limit: usize,
) -> Result<Batch, DbError> {
    let mut batch = Batch::default();
    let candidates: Vec<Candidate> = conn.query_map(
        "SELECT push_id, app_id, call_id, kind, platform, token, device_id, reason,
                expires_at_ms, attempts, recipient_identity
         FROM push_outbox
         WHERE next_attempt_at_ms <= ?1 AND (lease_until_ms IS NULL OR lease_until_ms <= ?1)
         ORDER BY next_attempt_at_ms, push_id LIMIT ?2",
        params![now as i64, limit as i64],
        candidate,
    )?;
    for c in candidates {
        let (mut call, mut chat) = (None, None);
        if c.kind == KIND_CHAT_MESSAGE {
            if let Some(recipient) = &c.recipient {
                chat = crate::chat::db::push_context(conn, &c.app_id, &c.call_id, recipient)?;
            }
        } else {
            call = calls::get(conn, &c.app_id, &c.call_id)?;
        }
        let why = if now >= c.expires_at_ms {
            Some("expired")
        } else if c.kind == KIND_CALL && !call.as_ref().is_some_and(|k| k.status.is_pending()) {
            Some("call_over")
        } else if c.kind == KIND_CHAT_MESSAGE && chat.is_none() {
            Some("message_moot")
        } else {
            None
        };
        if let Some(why) = why {
            // Conditional on the lease like the claim below: a row another
            // engine holds is its to finish.
            let n = conn.execute(
                "DELETE FROM push_outbox
                 WHERE push_id = ?1 AND (lease_until_ms IS NULL OR lease_until_ms <= ?2)",
                params![c.push_id, now as i64],
            )?;
            if n == 0 {
                continue;
            }
            batch.dropped.push(Dropped {
                call_id: c.call_id,
                kind: c.kind,
                platform: c.platform,
                token: c.token,
                attempts: c.attempts,
                why,
            });
            continue;
        }
        let n = conn.execute(
            "UPDATE push_outbox SET lease_owner = ?2, lease_until_ms = ?3, attempts = attempts + 1
             WHERE push_id = ?1 AND (lease_until_ms IS NULL OR lease_until_ms <= ?4)",
            params![
                c.push_id,
                owner,
                now.saturating_add(lease_ms) as i64,
                now as i64
            ],
        )?;
        if n == 1 {
            batch.claimed.push(Claimed {
                push_id: c.push_id,
                app_id: c.app_id,
                call_id: c.call_id,
                kind: c.kind,
                platform: c.platform,
                token: c.token,
                device_id: c.device_id,
                reason: c.reason,
                expires_at_ms: c.expires_at_ms,
                attempts: c.attempts + 1,
                call,
                chat,
            });
        }
    }
    batch.next_due_ms = conn
        .query_row(
            "SELECT MIN(CASE WHEN next_attempt_at_ms >= COALESCE(lease_until_ms, 0)
                             THEN next_attempt_at_ms ELSE lease_until_ms END)
             FROM push_outbox",
            params![],
            |r| r.get::<_, Option<i64>>(0),
        )?
        .map(|v| v.max(0) as u64);
    Ok(batch)
}

/// After a failed attempt: due again at `at_ms`, lease released. False when
/// the row is gone (the call ended meanwhile) or leased by someone else.
pub fn reschedule(
    conn: &Conn<'_>,
    push_id: i64,
    owner: &str,
    at_ms: u64,
    error: &str,
) -> Result<bool, DbError> {
    let n = conn.execute(
        "UPDATE push_outbox SET next_attempt_at_ms = ?3, lease_owner = NULL,
             lease_until_ms = NULL, last_error = ?4
         WHERE push_id = ?1 AND lease_owner = ?2",
        params![push_id, owner, at_ms as i64, error],
    )?;
    Ok(n > 0)
}

/// Deletes a row (done with, one way or another).
pub fn remove(conn: &Conn<'_>, push_id: i64) -> Result<bool, DbError> {
    Ok(conn.execute(
        "DELETE FROM push_outbox WHERE push_id = ?1",
        params![push_id],
    )? > 0)
}

/// What a `call_ended` for `call` is: its reason, and the device that
/// answered (which gets none); `None` while the call still rings.
pub type Ending = Option<(&'static str, Option<String>)>;

/// A provider accepted `row`. Deletes it; for an FCM call push, records the
/// delivery so the end of the ringing reaches this device, or, when the call
/// stopped ringing while the push was in flight, queues that `call_ended`
/// right away. Returns whether a `call_ended` was queued.
pub fn delivered(
    conn: &Conn<'_>,
    row: &Claimed,
    now: u64,
    ending: impl Fn(&CallRecord) -> Ending,
    ended_ttl_ms: u64,
) -> Result<bool, DbError> {
    conn.execute(
        "DELETE FROM push_outbox WHERE push_id = ?1",
        params![row.push_id],
    )?;
    let mut queued = false;
    if row.kind == KIND_CALL && row.platform == FCM {
        if let Some(call) = calls::get(conn, &row.app_id, &row.call_id)? {
            match ending(&call) {
                None => {
                    conn.execute(
                        "INSERT INTO push_deliveries
                             (call_id, token, app_id, platform, device_id, delivered_at_ms)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                         ON CONFLICT (call_id, token) DO UPDATE SET
                             app_id = excluded.app_id, platform = excluded.platform,
                             device_id = excluded.device_id,
                             delivered_at_ms = excluded.delivered_at_ms",
                        params![
                            row.call_id,
                            row.token,
                            row.app_id,
                            row.platform,
                            row.device_id,
                            now as i64
                        ],
                    )?;
                }
                Some((reason, skip)) => {
                    if skip.is_none() || skip != row.device_id {
                        queued = enqueue(
                            conn,
                            &NewPush {
                                app_id: &row.app_id,
                                call_id: &row.call_id,
                                kind: KIND_CALL_ENDED,
                                platform: FCM,
                                token: &row.token,
                                device_id: row.device_id.as_deref(),
                                reason: Some(reason),
                                expires_at_ms: now.saturating_add(ended_ttl_ms),
                            },
                            now,
                        )?;
                    }
                }
            }
        }
    }
    Ok(queued)
}

/// The provider says `token` is dead: forgets it (registration, queued rows,
/// deliveries). Returns whether a registration was deleted.
pub fn forget_token(conn: &Conn<'_>, app_id: &str, token: &str) -> Result<bool, DbError> {
    let n = conn.execute(
        "DELETE FROM push_tokens WHERE app_id = ?1 AND token = ?2",
        params![app_id, token],
    )?;
    conn.execute(
        "DELETE FROM push_outbox WHERE app_id = ?1 AND token = ?2",
        params![app_id, token],
    )?;
    conn.execute(
        "DELETE FROM push_deliveries WHERE app_id = ?1 AND token = ?2",
        params![app_id, token],
    )?;
    Ok(n > 0)
}

/// What [`call_over`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Over {
    /// Call pushes deleted unsent.
    pub dropped: usize,
    /// `call_ended` rows queued.
    pub queued: usize,
}

/// `call_id` stopped ringing: deletes its unsent call pushes, and queues
/// `call_ended` (`reason`) to every device its call push was delivered to,
/// except `skip_device`; those deliveries are consumed.
pub fn call_over(
    conn: &Conn<'_>,
    call_id: &str,
    reason: &str,
    skip_device: Option<&str>,
    now: u64,
    ended_ttl_ms: u64,
) -> Result<Over, DbError> {
    let dropped = conn.execute(
        "DELETE FROM push_outbox WHERE call_id = ?1 AND kind = ?2",
        params![call_id, KIND_CALL],
    )?;
    let delivered: Vec<(String, String, String, Option<String>)> = conn.query_map(
        "SELECT app_id, platform, token, device_id FROM push_deliveries
         WHERE call_id = ?1 ORDER BY delivered_at_ms, token",
        params![call_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    let mut queued = 0;
    for (app_id, platform, token, device_id) in &delivered {
        if skip_device.is_some() && skip_device == device_id.as_deref() {
            continue;
        }
        let new = NewPush {
            app_id,
            call_id,
            kind: KIND_CALL_ENDED,
            platform,
            token,
            device_id: device_id.as_deref(),
            reason: Some(reason),
            expires_at_ms: now.saturating_add(ended_ttl_ms),
        };
        if enqueue(conn, &new, now)? {
            queued += 1;
        }
    }
    conn.execute(
        "DELETE FROM push_deliveries WHERE call_id = ?1",
        params![call_id],
    )?;
    Ok(Over { dropped, queued })
}

/// Gives back every lease `owner` holds (a clean shutdown), so the rows are
/// due again at once for whoever runs next.
pub fn release_leases(conn: &Conn<'_>, owner: &str) -> Result<usize, DbError> {
    conn.execute(
        "UPDATE push_outbox SET lease_owner = NULL, lease_until_ms = NULL WHERE lease_owner = ?1",
        params![owner],
    )
}

/// On start: deletes rows and deliveries of platforms this engine has no
/// credentials for (they could never be sent).
pub fn prune_platforms(conn: &Conn<'_>, enabled: &[&str]) -> Result<usize, DbError> {
    let mut deleted = 0;
    for table in ["push_outbox", "push_deliveries"] {
        let platforms: Vec<String> = conn.query_map(
            &format!("SELECT DISTINCT platform FROM {table}"),
            params![],
            |r| r.get(0),
        )?;
        for p in platforms {
            if !enabled.contains(&p.as_str()) {
                deleted += conn.execute(
                    &format!("DELETE FROM {table} WHERE platform = ?1"),
                    params![p],
                )?;
            }
        }
    }
    Ok(deleted)
}

#[cfg(test)]
#[path = "outbox_tests.rs"]
mod tests;
