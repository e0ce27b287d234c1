//! SQLite storage: one connection behind a mutex, used from blocking threads.
//!
//! One connection is enough for this engine's load and makes every claim
//! (room ownership, later seats) trivially atomic; the work is moved off the
//! async runtime with `spawn_blocking` so a slow disk never stalls sockets.

pub mod apps;
pub mod calls;
pub mod presence;
pub mod push;
pub mod rooms;
pub mod seats;
pub mod sessions;
pub mod stage;
pub mod versions;

use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use crate::config::DatabaseLocation;

/// Migrations, applied in order; the number is recorded in `schema_version`.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/0001_init.sql")),
    (2, include_str!("../../migrations/0002_seats_stage.sql")),
    (3, include_str!("../../migrations/0003_state_versions.sql")),
    (4, include_str!("../../migrations/0004_calls.sql")),
    (5, include_str!("../../migrations/0005_push_outbox.sql")),
    (6, include_str!("../../migrations/0006_uploads.sql")),
    (7, include_str!("../../migrations/0007_chat.sql")),
];

/// Storage failures. Never carries secrets (queries bind them as parameters).
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// SQLite said no.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The blocking task died (panic) or the lock was poisoned by one.
    #[error("storage task failed: {0}")]
    Task(String),
}

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
}

impl Db {
    /// Opens (creating if needed) and migrates the database.
    pub fn open(location: &DatabaseLocation) -> Result<Db, DbError> {
        let conn = match location {
            DatabaseLocation::Memory => Connection::open_in_memory()?,
            DatabaseLocation::File(path) => {
                let conn = Connection::open(path)?;
                // WAL lets the CLI and tests read while the engine writes.
                conn.pragma_update(None, "journal_mode", "WAL")?;
                conn.pragma_update(None, "synchronous", "NORMAL")?;
                conn
            }
        };
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let mut conn = conn;
        migrate(&mut conn)?;
        Ok(Db {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` with the connection on a blocking thread.
    pub async fn call<F, R>(&self, f: F) -> Result<R, DbError>
    where
        F: FnOnce(&mut Connection) -> Result<R, DbError> + Send + 'static,
        R: Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn
                .lock()
                .map_err(|_| DbError::Task("database lock poisoned".into()))?;
            f(&mut guard)
        })
        .await
        .map_err(|e| DbError::Task(e.to_string()))?
    }

    /// Runs `f` on the current thread (CLI use, no runtime needed).
    pub fn call_blocking<F, R>(&self, f: F) -> Result<R, DbError>
    where
        F: FnOnce(&mut Connection) -> Result<R, DbError>,
    {
        let mut guard = self
            .conn
            .lock()
            .map_err(|_| DbError::Task("database lock poisoned".into()))?;
        f(&mut guard)
    }
}

fn migrate(conn: &mut Connection) -> Result<(), DbError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_version (
             version INTEGER PRIMARY KEY,
             applied_at_ms INTEGER NOT NULL
         );",
    )?;
    let current: i64 = conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_version",
        [],
        |r| r.get(0),
    )?;
    for (version, sql) in MIGRATIONS {
        if *version <= current {
            continue;
        }
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO schema_version (version, applied_at_ms) VALUES (?1, ?2)",
            rusqlite::params![version, crate::ids::now_ms() as i64],
        )?;
        tx.commit()?;
        tracing::info!(version, "applied database migration");
    }
    Ok(())
}

/// Row counts of every engine table (used by tests to prove that refused
/// requests wrote nothing).
pub fn row_counts(conn: &Connection) -> Result<std::collections::BTreeMap<String, i64>, DbError> {
    let mut out = std::collections::BTreeMap::new();
    for table in [
        "apps",
        "sessions",
        "bans",
        "rooms",
        "push_tokens",
        "presence",
        "seat_layouts",
        "seats",
        "seat_requests",
        "stage_members",
        "stage_requests",
        "room_state_versions",
        "calls",
        "push_outbox",
        "push_deliveries",
    ] {
        let n: i64 = conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))?;
        out.insert(table.to_owned(), n);
    }
    Ok(out)
}
