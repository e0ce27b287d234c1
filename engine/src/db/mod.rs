//! Storage: SQLite in one process (the embedded default) or PostgreSQL
//! shared by several engine nodes, behind one SQL surface ([`sql::Conn`]).
//!
//! Every [`Db::call`] is one transaction run off the runtime's threads, so a
//! slow disk or database never stalls sockets. SQLite has one connection
//! owned by a thread of its own, which runs calls one after the other and
//! commits those that queued up together ([`sqlite_writer`]); PostgreSQL
//! runs each call `SERIALIZABLE` on a blocking thread and retries it on a
//! serialization failure, which keeps the same promise across nodes (see
//! [`postgres`]).

pub mod apps;
pub mod calls;
pub mod grants;
pub mod postgres;
pub mod presence;
pub mod push;
pub mod rooms;
pub mod seats;
pub mod sessions;
pub mod sql;
mod sqlite_writer;
pub mod stage;
pub mod versions;
pub mod webhooks;

use std::sync::{mpsc, Arc};
use std::time::Duration;

use crate::config::DatabaseLocation;
pub use sql::Conn;

/// SQLite migrations, applied in order; the number is recorded in
/// `schema_version`.
const SQLITE_MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/sqlite/0001_init.sql")),
    (
        2,
        include_str!("../../migrations/sqlite/0002_seats_stage.sql"),
    ),
    (
        3,
        include_str!("../../migrations/sqlite/0003_state_versions.sql"),
    ),
    (4, include_str!("../../migrations/sqlite/0004_calls.sql")),
    (
        5,
        include_str!("../../migrations/sqlite/0005_push_outbox.sql"),
    ),
    (6, include_str!("../../migrations/sqlite/0006_uploads.sql")),
    (7, include_str!("../../migrations/sqlite/0007_chat.sql")),
    (
        8,
        include_str!("../../migrations/sqlite/0008_webhook_events.sql"),
    ),
    (
        9,
        include_str!("../../migrations/sqlite/0009_grant_outbox.sql"),
    ),
];

/// The same schema for PostgreSQL (same numbers, same tables and columns;
/// integers are `BIGINT`, bytes `BYTEA`).
const POSTGRES_MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/postgres/0001_init.sql")),
    (
        2,
        include_str!("../../migrations/postgres/0002_seats_stage.sql"),
    ),
    (
        3,
        include_str!("../../migrations/postgres/0003_state_versions.sql"),
    ),
    (4, include_str!("../../migrations/postgres/0004_calls.sql")),
    (
        5,
        include_str!("../../migrations/postgres/0005_push_outbox.sql"),
    ),
    (
        6,
        include_str!("../../migrations/postgres/0006_uploads.sql"),
    ),
    (7, include_str!("../../migrations/postgres/0007_chat.sql")),
    (
        8,
        include_str!("../../migrations/postgres/0008_webhook_events.sql"),
    ),
    (
        9,
        include_str!("../../migrations/postgres/0009_grant_outbox.sql"),
    ),
];

/// How often a PostgreSQL transaction is run again after a serialization
/// failure before the error is returned: under a burst of writers on one row
/// (20 members added to one group at once) each round lets at least one
/// commit, so this outlasts any burst a client can make within its limits.
const MAX_ATTEMPTS: u32 = 60;
/// The longest pause between two attempts (the pause grows from 1 ms).
const MAX_BACKOFF_MS: u64 = 64;

/// Storage failures. Never carries secrets (queries bind them as parameters;
/// connection URLs are never part of a message).
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// SQLite said no.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL said no (or its connection failed).
    #[error("postgres: {0}")]
    Postgres(#[from] ::postgres::Error),
    /// A single-row read found no row.
    #[error("no row")]
    NoRows,
    /// A column did not hold what the storage code expected.
    #[error("unexpected column value: {0}")]
    Decode(String),
    /// A storage call died (a panic) or the thread that runs it is gone.
    #[error("storage task failed: {0}")]
    Task(String),
    /// The SQLite transaction this call shared with others (see
    /// [`sqlite_writer`]) failed as a whole, so nothing of this call was
    /// kept.
    #[error("transaction failed: {0}")]
    Batch(String),
}

impl DbError {
    /// Whether the whole transaction should simply be run again.
    fn is_retryable(&self) -> bool {
        matches!(self, DbError::Postgres(e) if postgres::is_retryable(e))
    }
}

/// An error type a transaction may end with: a storage failure, or a
/// refusal of the caller's own (which rolls the transaction back too).
pub trait TxFailure: From<DbError> {
    /// The storage failure inside, if that is what this is.
    fn as_db_error(&self) -> Option<&DbError>;
}

impl TxFailure for DbError {
    fn as_db_error(&self) -> Option<&DbError> {
        Some(self)
    }
}

enum Backend {
    Sqlite(mpsc::Sender<sqlite_writer::Job>),
    Postgres {
        pool: Arc<postgres::PgPool>,
        // Bounds the clients in use (the pool opens one per permit at most).
        permits: Arc<tokio::sync::Semaphore>,
    },
}

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Db {
    backend: Arc<Backend>,
}

impl Db {
    /// Opens (creating if needed) and migrates the database. Blocking.
    pub fn open(location: &DatabaseLocation) -> Result<Db, DbError> {
        let backend = match location {
            DatabaseLocation::Memory => Backend::Sqlite(sqlite_writer::spawn(open_sqlite(None)?)?),
            DatabaseLocation::File(path) => {
                Backend::Sqlite(sqlite_writer::spawn(open_sqlite(Some(path))?)?)
            }
            DatabaseLocation::Postgres(url) => {
                let pool = postgres::PgPool::open(url.expose())?;
                let mut session = pool.take()?;
                migrate_postgres(&mut session)?;
                pool.give_back(session);
                Backend::Postgres {
                    pool,
                    permits: Arc::new(tokio::sync::Semaphore::new(postgres::DEFAULT_POOL_SIZE)),
                }
            }
        };
        Ok(Db {
            backend: Arc::new(backend),
        })
    }

    /// Runs `f` as one transaction on a blocking thread: committed when it
    /// returns `Ok`, rolled back otherwise. `f` may run more than once on
    /// PostgreSQL (after a serialization failure), so it must only act
    /// through the connection.
    pub async fn call<F, R>(&self, f: F) -> Result<R, DbError>
    where
        F: FnMut(&Conn<'_>) -> Result<R, DbError> + Send + 'static,
        R: Send + 'static,
    {
        self.transact(f).await
    }

    /// A read outside any transaction: each statement sees the data
    /// committed when it runs (no snapshot across statements), for the hot
    /// single-query reads of every request (a bearer's session, an app). On
    /// PostgreSQL this saves the transaction's two extra round trips.
    pub async fn read<F, R>(&self, mut f: F) -> Result<R, DbError>
    where
        F: FnMut(&Conn<'_>) -> Result<R, DbError> + Send + 'static,
        R: Send + 'static,
    {
        let (pool, permits) = match &*self.backend {
            Backend::Sqlite(jobs) => {
                let (reply, answer) = tokio::sync::oneshot::channel();
                let job = sqlite_writer::Job::Read(Box::new(move |conn| {
                    let _ = reply.send(f(conn));
                }));
                send_job(jobs, job)?;
                return answer.await.map_err(|_| thread_lost())?;
            }
            Backend::Postgres { pool, permits } => (pool.clone(), permits.clone()),
        };
        let permit = permits
            .acquire_owned()
            .await
            .map_err(|_| DbError::Task("the database pool closed".into()))?;
        tokio::task::spawn_blocking(move || {
            let mut session = pool.take()?;
            let result = f(&Conn::postgres(&mut session));
            pool.give_back(session);
            drop(permit);
            result
        })
        .await
        .map_err(|e| DbError::Task(e.to_string()))?
    }

    /// [`Db::call`] for transactions that may also end with a refusal of
    /// their own (`E`), which rolls back like a storage error.
    pub async fn transact<F, R, E>(&self, f: F) -> Result<R, E>
    where
        F: FnMut(&Conn<'_>) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: TxFailure + Send + 'static,
    {
        let permits = match &*self.backend {
            Backend::Sqlite(jobs) => {
                let (reply, answer) = tokio::sync::oneshot::channel();
                send_job(
                    jobs,
                    sqlite_write(f, move |result| {
                        let _ = reply.send(result);
                    }),
                )?;
                return answer.await.map_err(|_| E::from(thread_lost()))?;
            }
            Backend::Postgres { permits, .. } => permits.clone(),
        };
        // Waiting for a PostgreSQL client happens here, on the runtime, not
        // on a blocking thread.
        let permit = permits
            .acquire_owned()
            .await
            .map_err(|_| E::from(DbError::Task("the database pool closed".into())))?;
        let db = self.clone();
        tokio::task::spawn_blocking(move || {
            let result = db.transact_blocking(f);
            drop(permit);
            result
        })
        .await
        .map_err(|e| E::from(DbError::Task(e.to_string())))?
    }

    /// [`Db::call`] on the current thread (CLI use, no runtime needed).
    pub fn call_blocking<F, R>(&self, f: F) -> Result<R, DbError>
    where
        F: FnMut(&Conn<'_>) -> Result<R, DbError> + Send + 'static,
        R: Send + 'static,
    {
        self.transact_blocking(f)
    }

    fn transact_blocking<F, R, E>(&self, mut f: F) -> Result<R, E>
    where
        F: FnMut(&Conn<'_>) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: TxFailure + Send + 'static,
    {
        match &*self.backend {
            Backend::Sqlite(jobs) => {
                // No runtime here (or one that may be blocked): wait on a
                // plain channel.
                let (reply, answer) = mpsc::sync_channel(1);
                send_job(
                    jobs,
                    sqlite_write(f, move |result| {
                        let _ = reply.send(result);
                    }),
                )?;
                answer.recv().map_err(|_| E::from(thread_lost()))?
            }
            Backend::Postgres { pool, .. } => {
                let mut session = pool.take()?;
                let result = postgres_transaction(&mut session, &mut f);
                pool.give_back(session);
                result
            }
        }
    }
}

fn open_sqlite(path: Option<&std::path::Path>) -> Result<rusqlite::Connection, DbError> {
    let conn = match path {
        None => rusqlite::Connection::open_in_memory()?,
        Some(path) => {
            let conn = rusqlite::Connection::open(path)?;
            // WAL lets the CLI and tests read while the engine writes.
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            conn
        }
    };
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    migrate(&Conn::sqlite(&conn), SQLITE_MIGRATIONS)?;
    Ok(conn)
}

/// The job that runs `f` in the SQLite thread's batch and hands its result,
/// once the batch has ended, to `reply`.
fn sqlite_write<F, R, E>(
    mut f: F,
    reply: impl FnOnce(Result<R, E>) + Send + 'static,
) -> sqlite_writer::Job
where
    F: FnMut(&Conn<'_>) -> Result<R, E> + Send + 'static,
    R: Send + 'static,
    E: TxFailure + Send + 'static,
{
    sqlite_writer::Job::Write(Box::new(move |conn| {
        // `None`: not run, as no transaction could be opened for it.
        let outcome = conn.ok().map(&mut f);
        sqlite_writer::WriteOutcome {
            keep: matches!(outcome, Some(Ok(_))),
            deliver: Box::new(move |failure| {
                reply(match (outcome, failure) {
                    // Its own refusal wins over the batch's fate.
                    (Some(Err(e)), _) => Err(e),
                    (_, Some(failure)) => Err(E::from(DbError::Batch(failure.to_string()))),
                    (Some(Ok(value)), None) => Ok(value),
                    (None, None) => Err(E::from(DbError::Batch("not run".into()))),
                })
            }),
        }
    }))
}

fn send_job(
    jobs: &mpsc::Sender<sqlite_writer::Job>,
    job: sqlite_writer::Job,
) -> Result<(), DbError> {
    jobs.send(job).map_err(|_| thread_lost())
}

fn thread_lost() -> DbError {
    DbError::Task(
        "the call ended without an answer (it panicked, or the database thread stopped)".into(),
    )
}

fn postgres_transaction<F, R, E>(session: &mut postgres::PgSession, f: &mut F) -> Result<R, E>
where
    F: FnMut(&Conn<'_>) -> Result<R, E>,
    E: TxFailure,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        session.begin()?;
        let outcome = f(&Conn::postgres(session));
        let failure = match outcome {
            Ok(value) => match session.execute_batch("COMMIT") {
                Ok(()) => return Ok(value),
                // A failed COMMIT has already rolled back.
                Err(e) => E::from(e),
            },
            Err(e) => {
                let _ = session.execute_batch("ROLLBACK");
                e
            }
        };
        let retry =
            session.conflicted() || failure.as_db_error().is_some_and(DbError::is_retryable);
        if !retry || attempt >= MAX_ATTEMPTS {
            return Err(failure);
        }
        // Exponential backoff with full jitter, so writers colliding on a row
        // spread out instead of colliding again.
        let ceiling = (1u64 << attempt.min(6)).min(MAX_BACKOFF_MS);
        std::thread::sleep(Duration::from_millis(rand::random_range(0..=ceiling)));
    }
}

fn migrate_postgres(session: &mut postgres::PgSession) -> Result<(), DbError> {
    // Nodes starting together: one migrates, the others wait on the lock and
    // then find nothing to do.
    session.execute_batch("SELECT pg_advisory_lock(7207001)")?;
    let result = migrate(&Conn::postgres(session), POSTGRES_MIGRATIONS);
    session.execute_batch("SELECT pg_advisory_unlock(7207001)")?;
    result
}

fn migrate(conn: &Conn<'_>, migrations: &[(i64, &str)]) -> Result<(), DbError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_version (
             version BIGINT PRIMARY KEY,
             applied_at_ms BIGINT NOT NULL
         );",
    )?;
    let current: i64 = conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_version",
        sql::params![],
        |r| r.get(0),
    )?;
    for (version, sql) in migrations {
        if *version <= current {
            continue;
        }
        conn.execute_batch("BEGIN")?;
        let applied = conn.execute_batch(sql).and_then(|()| {
            conn.execute(
                "INSERT INTO schema_version (version, applied_at_ms) VALUES (?1, ?2)",
                sql::params![*version, crate::ids::now_ms() as i64],
            )
        });
        match applied {
            Ok(_) => conn.execute_batch("COMMIT")?,
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(e);
            }
        }
        tracing::info!(version, "applied database migration");
    }
    Ok(())
}

/// Row counts of every engine table (used by tests to prove that refused
/// requests wrote nothing).
pub fn row_counts(conn: &Conn<'_>) -> Result<std::collections::BTreeMap<String, i64>, DbError> {
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
        "grant_outbox",
    ] {
        let n: i64 = conn.query_row(
            &format!("SELECT COUNT(*) FROM {table}"),
            sql::params![],
            |r| r.get(0),
        )?;
        out.insert(table.to_owned(), n);
    }
    Ok(out)
}
