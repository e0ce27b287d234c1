//! Push tokens of users' devices (dispatch: `crate::push`, gated on the
//! APNs / FCM credentials).

use super::sql::{params, Conn};

use super::DbError;
use crate::ids::now_ms;

/// Registers (or moves to this user) a device push token. A token with a
/// device id replaces the user's other tokens of that platform and device
/// (an app that got a new token no longer rings through the old one).
pub fn register(
    conn: &Conn<'_>,
    app_id: &str,
    identity: &str,
    platform: &str,
    token: &str,
    device_id: Option<&str>,
) -> Result<(), DbError> {
    if let Some(device) = device_id {
        conn.execute(
            "DELETE FROM push_tokens
             WHERE app_id = ?1 AND identity = ?2 AND platform = ?3 AND device_id = ?4
               AND token <> ?5",
            params![app_id, identity, platform, device, token],
        )?;
    }
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
    conn: &Conn<'_>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DatabaseLocation;
    use crate::db::Db;

    fn tokens(c: &Conn<'_>) -> Vec<(String, String, String, Option<String>)> {
        c.query_map(
            "SELECT identity, platform, token, device_id FROM push_tokens ORDER BY token",
            params![],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap()
    }

    #[test]
    fn a_new_token_replaces_the_old_one_of_the_same_platform_and_device() {
        let db = Db::open(&DatabaseLocation::Memory).unwrap();
        db.call_blocking(|c| {
            c.execute_batch(
                "INSERT INTO apps VALUES ('1', 'a', 'k', 's', 'free', 1, NULL, NULL, NULL, 1, 1, 0)",
            )?;
            register(c, "1", "alice", "fcm", "t1", Some("phone"))?;
            register(c, "1", "alice", "apns_voip", "v1", Some("phone"))?;
            register(c, "1", "alice", "fcm", "t2", Some("tablet"))?;
            register(c, "1", "alice", "fcm", "n1", None)?;
            // The phone's FCM token changes: only t1 goes.
            register(c, "1", "alice", "fcm", "t3", Some("phone"))?;
            // Re-registering the same token keeps it.
            register(c, "1", "alice", "fcm", "t3", Some("phone"))?;
            // Another user's device of the same name is not touched.
            register(c, "1", "bob", "fcm", "b1", Some("phone"))?;
            let names: Vec<String> = tokens(c).into_iter().map(|t| t.2).collect();
            assert_eq!(names, ["b1", "n1", "t2", "t3", "v1"]);
            // Without a device id nothing is replaced.
            register(c, "1", "alice", "fcm", "n2", None)?;
            assert_eq!(tokens(c).len(), 6);
            Ok(())
        })
        .unwrap();
    }
}
