//! The PostgreSQL side of [`super::Db`]: a small pool of synchronous
//! clients used from the blocking pool, exactly where SQLite's connection is
//! used, so one body of storage code serves both databases.
//!
//! Each [`super::Db::call`] is one `SERIALIZABLE` transaction, retried when
//! PostgreSQL reports a serialization failure or a deadlock: the storage code
//! was written for one SQLite connection, where every call is atomic, and
//! serializable isolation keeps that promise across engine nodes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use postgres::types::{IsNull, ToSql, Type};
use postgres::{Client, NoTls, Statement};

use super::sql::{postgres_placeholders, Row, Value};
use super::DbError;

/// Connections each engine node keeps open at most.
pub const DEFAULT_POOL_SIZE: usize = 8;

/// One client with its prepared statements (keyed by the portable SQL).
pub struct PgSession {
    client: Client,
    statements: HashMap<String, Statement>,
    // Set when a statement of the current transaction hit a serialization
    // failure: the transaction is retried even if the storage code swallowed
    // that error and failed later on the aborted transaction.
    conflicted: bool,
}

impl PgSession {
    fn connect(url: &str) -> Result<PgSession, DbError> {
        Ok(PgSession {
            client: Client::connect(url, NoTls)?,
            statements: HashMap::new(),
            conflicted: false,
        })
    }

    fn statement(&mut self, sql: &str) -> Result<Statement, DbError> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let prepared = self.client.prepare(&postgres_placeholders(sql));
        let statement = self.note(prepared)?;
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    pub(super) fn execute(&mut self, sql: &str, values: &[Value]) -> Result<usize, DbError> {
        let statement = self.statement(sql)?;
        let params = bind(values);
        let changed = self.client.execute(&statement, &refs(&params));
        let changed = self.note(changed)?;
        Ok(usize::try_from(changed).unwrap_or(usize::MAX))
    }

    pub(super) fn query(&mut self, sql: &str, values: &[Value]) -> Result<Vec<Row>, DbError> {
        let statement = self.statement(sql)?;
        let params = bind(values);
        let rows = self.client.query(&statement, &refs(&params));
        self.note(rows)?.iter().map(read_row).collect()
    }

    pub(super) fn execute_batch(&mut self, sql: &str) -> Result<(), DbError> {
        let done = self.client.batch_execute(sql);
        Ok(self.note(done)?)
    }

    /// Starts a transaction (forgetting the previous one's conflicts).
    pub(super) fn begin(&mut self) -> Result<(), DbError> {
        self.conflicted = false;
        self.execute_batch("BEGIN ISOLATION LEVEL SERIALIZABLE")
    }

    /// Whether the current transaction hit a serialization failure.
    pub(super) fn conflicted(&self) -> bool {
        self.conflicted
    }

    fn note<T>(&mut self, result: Result<T, postgres::Error>) -> Result<T, postgres::Error> {
        if let Err(e) = &result {
            self.conflicted |= is_retryable(e);
        }
        result
    }
}

/// Idle clients plus the URL to open more; the number in use is bounded by
/// the caller's semaphore (see [`super::Db`]).
pub struct PgPool {
    url: String,
    idle: Mutex<Vec<PgSession>>,
}

impl PgPool {
    /// Connects once (so a wrong URL fails at start, not at the first request).
    pub fn open(url: &str) -> Result<Arc<PgPool>, DbError> {
        let first = PgSession::connect(url)?;
        Ok(Arc::new(PgPool {
            url: url.to_owned(),
            idle: Mutex::new(vec![first]),
        }))
    }

    /// An idle client, or a new one; a client whose socket closed is dropped.
    pub fn take(&self) -> Result<PgSession, DbError> {
        loop {
            let idle = self
                .idle
                .lock()
                .map_err(|_| DbError::Task("pool lock poisoned".into()))?
                .pop();
            match idle {
                Some(session) if session.client.is_closed() => continue,
                Some(session) => return Ok(session),
                None => return PgSession::connect(&self.url),
            }
        }
    }

    /// Returns a client after use (a broken one is simply dropped).
    pub fn give_back(&self, session: PgSession) {
        if session.client.is_closed() {
            return;
        }
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(session);
        }
    }
}

impl Drop for PgPool {
    fn drop(&mut self) {
        // A synchronous client says goodbye to the server when dropped, on a
        // runtime of its own, which must not start on a thread that drives
        // the engine's tasks (the last handle may go on one): a thread of
        // their own closes them.
        let idle = match self.idle.get_mut() {
            Ok(idle) => std::mem::take(idle),
            Err(poisoned) => std::mem::take(poisoned.into_inner()),
        };
        if !idle.is_empty() {
            let _ = std::thread::Builder::new()
                .name("utd-pg-close".into())
                .spawn(move || drop(idle));
        }
    }
}

/// Whether PostgreSQL asked for the transaction to be run again.
pub(super) fn is_retryable(e: &postgres::Error) -> bool {
    use postgres::error::SqlState;
    e.code().is_some_and(|c| {
        *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
    })
}

/// A [`Value`] bound to whatever type PostgreSQL inferred for its placeholder
/// (an integer parameter may be `int2`, `int4`, `int8` or `bool`).
#[derive(Debug)]
struct Param(Value);

impl ToSql for Param {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match &self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(v) => match *ty {
                Type::INT8 => v.to_sql(ty, out),
                Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
                Type::BOOL => (*v != 0).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR => v.to_string().to_sql(ty, out),
                _ => Err(format!("an integer cannot be bound as {ty}").into()),
            },
            Value::Text(v) => v.to_sql(ty, out),
            Value::Blob(v) => v.to_sql(ty, out),
        }
    }

    fn accepts(_ty: &Type) -> bool {
        // Checked per value in `to_sql`.
        true
    }

    postgres::types::to_sql_checked!();
}

fn bind(values: &[Value]) -> Vec<Param> {
    values.iter().cloned().map(Param).collect()
}

fn refs(params: &[Param]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

fn read_row(row: &postgres::Row) -> Result<Row, DbError> {
    let mut values = Vec::with_capacity(row.len());
    for (i, column) in row.columns().iter().enumerate() {
        let value = match *column.type_() {
            Type::INT8 => row.try_get::<_, Option<i64>>(i)?.map(Value::Int),
            Type::INT4 => row
                .try_get::<_, Option<i32>>(i)?
                .map(|v| Value::Int(v.into())),
            Type::INT2 => row
                .try_get::<_, Option<i16>>(i)?
                .map(|v| Value::Int(v.into())),
            Type::BOOL => row
                .try_get::<_, Option<bool>>(i)?
                .map(|v| Value::Int(v.into())),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => {
                row.try_get::<_, Option<String>>(i)?.map(Value::Text)
            }
            Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(i)?.map(Value::Blob),
            ref other => {
                return Err(DbError::Decode(format!(
                    "column {i} ({}) has type {other}, which the engine does not read",
                    column.name()
                )))
            }
        };
        values.push(value.unwrap_or(Value::Null));
    }
    Ok(Row::new(values))
}
