//! One SQL surface over SQLite and PostgreSQL.
//!
//! Every storage function takes a [`Conn`] and writes portable SQL: numbered
//! placeholders `?1`, `?2` (rewritten to `$1`, `$2` for PostgreSQL),
//! `ON CONFLICT` instead of `INSERT OR …`, `CASE` instead of the scalar
//! `MAX(a, b)`. Values cross as [`Value`]: integers (booleans are 0/1 in both
//! schemas), text, bytes or NULL, so a row reads the same from either
//! database. A `Conn` is always inside a transaction opened by
//! [`super::Db::call`]; storage functions never open their own.

use std::cell::RefCell;

use super::postgres::PgSession;
use super::DbError;

/// A value bound to or read from a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// Any integer column (and booleans, stored as 0/1).
    Int(i64),
    /// Text.
    Text(String),
    /// Bytes (`BLOB` / `BYTEA`).
    Blob(Vec<u8>),
}

/// Something that can be bound as a statement parameter.
pub trait ToValue {
    /// The value to bind.
    fn to_value(&self) -> Value;
}

/// Parameters of a statement: `params![a, b]`.
pub type Params<'a> = &'a [&'a dyn ToValue];

/// Builds statement parameters, like rusqlite's macro of the same name.
macro_rules! params {
    () => {
        &[] as &[&dyn $crate::db::sql::ToValue]
    };
    ($($p:expr),+ $(,)?) => {
        &[$(&$p as &dyn $crate::db::sql::ToValue),+] as &[&dyn $crate::db::sql::ToValue]
    };
}
pub(crate) use params;

macro_rules! int_to_value {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Value {
                Value::Int(i64::from(*self))
            }
        }
    )*};
}
int_to_value!(i64, i32, i16, u32, u16, u8);

impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}

impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_owned())
    }
}

impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}

impl ToValue for [u8] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}

impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value {
        Value::Blob(self.clone())
    }
}

impl<const N: usize> ToValue for [u8; N] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}

impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}

impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

/// A type a column can be read as.
pub trait FromValue: Sized {
    /// Converts the column's value; `column` names it in the error.
    fn from_value(value: &Value, column: usize) -> Result<Self, DbError>;
}

fn mismatch(column: usize, wanted: &str, got: &Value) -> DbError {
    let got = match got {
        Value::Null => "NULL",
        Value::Int(_) => "an integer",
        Value::Text(_) => "text",
        Value::Blob(_) => "bytes",
    };
    DbError::Decode(format!("column {column}: wanted {wanted}, found {got}"))
}

impl FromValue for i64 {
    fn from_value(value: &Value, column: usize) -> Result<Self, DbError> {
        match value {
            Value::Int(v) => Ok(*v),
            other => Err(mismatch(column, "an integer", other)),
        }
    }
}

macro_rules! narrow_from_value {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(value: &Value, column: usize) -> Result<Self, DbError> {
                let wide = i64::from_value(value, column)?;
                <$t>::try_from(wide).map_err(|_| {
                    DbError::Decode(format!(
                        "column {column}: {wide} does not fit {}",
                        stringify!($t)
                    ))
                })
            }
        }
    )*};
}
narrow_from_value!(i32, u32, u64, usize, u16, u8);

impl FromValue for bool {
    fn from_value(value: &Value, column: usize) -> Result<Self, DbError> {
        Ok(i64::from_value(value, column)? != 0)
    }
}

impl FromValue for String {
    fn from_value(value: &Value, column: usize) -> Result<Self, DbError> {
        match value {
            Value::Text(v) => Ok(v.clone()),
            other => Err(mismatch(column, "text", other)),
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(value: &Value, column: usize) -> Result<Self, DbError> {
        match value {
            Value::Blob(v) => Ok(v.clone()),
            other => Err(mismatch(column, "bytes", other)),
        }
    }
}

impl FromValue for Value {
    fn from_value(value: &Value, _column: usize) -> Result<Self, DbError> {
        Ok(value.clone())
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: &Value, column: usize) -> Result<Self, DbError> {
        match value {
            Value::Null => Ok(None),
            other => T::from_value(other, column).map(Some),
        }
    }
}

/// A column position (rusqlite's `get::<_, T>(i)` form keeps compiling).
pub trait RowIndex {
    /// The 0-based position.
    fn index(&self) -> usize;
}

impl RowIndex for usize {
    fn index(&self) -> usize {
        *self
    }
}

/// One result row, read by position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    values: Vec<Value>,
}

impl Row {
    pub(super) fn new(values: Vec<Value>) -> Row {
        Row { values }
    }

    /// Column `index` converted to `T`.
    pub fn get<I: RowIndex, T: FromValue>(&self, index: I) -> Result<T, DbError> {
        let index = index.index();
        let value = self.values.get(index).ok_or_else(|| {
            DbError::Decode(format!(
                "column {index} out of range ({} columns)",
                self.values.len()
            ))
        })?;
        T::from_value(value, index)
    }
}

/// `.optional()` on a single-row read: no row is `None`, like rusqlite's.
pub trait OptionalExtension<T> {
    /// `Ok(None)` instead of [`DbError::NoRows`].
    fn optional(self) -> Result<Option<T>, DbError>;
}

impl<T> OptionalExtension<T> for Result<T, DbError> {
    fn optional(self) -> Result<Option<T>, DbError> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(DbError::NoRows) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A connection inside a transaction, to either database.
pub struct Conn<'a> {
    kind: ConnKind<'a>,
}

enum ConnKind<'a> {
    Sqlite(&'a rusqlite::Connection),
    // RefCell: the PostgreSQL client needs `&mut` per statement while storage
    // functions share `&Conn` (as they shared rusqlite's `&Connection`).
    Postgres(RefCell<&'a mut PgSession>),
}

impl<'a> Conn<'a> {
    pub(super) fn sqlite(conn: &'a rusqlite::Connection) -> Conn<'a> {
        Conn {
            kind: ConnKind::Sqlite(conn),
        }
    }

    pub(super) fn postgres(session: &'a mut PgSession) -> Conn<'a> {
        Conn {
            kind: ConnKind::Postgres(RefCell::new(session)),
        }
    }

    /// Runs one statement; returns the number of rows it changed.
    pub fn execute(&self, sql: &str, params: Params<'_>) -> Result<usize, DbError> {
        let values = to_values(params);
        match &self.kind {
            ConnKind::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                Ok(stmt.execute(rusqlite::params_from_iter(values.iter()))?)
            }
            ConnKind::Postgres(s) => s.borrow_mut().execute(sql, &values),
        }
    }

    /// Every row of a query, each mapped by `f`.
    pub fn query_map<T, F>(
        &self,
        sql: &str,
        params: Params<'_>,
        mut f: F,
    ) -> Result<Vec<T>, DbError>
    where
        F: FnMut(&Row) -> Result<T, DbError>,
    {
        self.rows(sql, params)?.iter().map(&mut f).collect()
    }

    /// The first row of a query mapped by `f`; [`DbError::NoRows`] when there
    /// is none (`.optional()` turns that into `None`).
    pub fn query_row<T, F>(&self, sql: &str, params: Params<'_>, f: F) -> Result<T, DbError>
    where
        F: FnOnce(&Row) -> Result<T, DbError>,
    {
        match self.rows(sql, params)?.first() {
            Some(row) => f(row),
            None => Err(DbError::NoRows),
        }
    }

    /// Runs several `;`-separated statements without parameters.
    pub fn execute_batch(&self, sql: &str) -> Result<(), DbError> {
        match &self.kind {
            ConnKind::Sqlite(c) => Ok(c.execute_batch(sql)?),
            ConnKind::Postgres(s) => s.borrow_mut().execute_batch(sql),
        }
    }

    fn rows(&self, sql: &str, params: Params<'_>) -> Result<Vec<Row>, DbError> {
        let values = to_values(params);
        match &self.kind {
            ConnKind::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                let columns = stmt.column_count();
                let mut rows = stmt.query(rusqlite::params_from_iter(values.iter()))?;
                let mut out = Vec::new();
                while let Some(row) = rows.next()? {
                    let mut values = Vec::with_capacity(columns);
                    for i in 0..columns {
                        values.push(from_sqlite(row.get_ref(i)?));
                    }
                    out.push(Row::new(values));
                }
                Ok(out)
            }
            ConnKind::Postgres(s) => s.borrow_mut().query(sql, &values),
        }
    }
}

fn to_values(params: Params<'_>) -> Vec<Value> {
    params.iter().map(|p| p.to_value()).collect()
}

fn from_sqlite(value: rusqlite::types::ValueRef<'_>) -> Value {
    use rusqlite::types::ValueRef;
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(v) => Value::Int(v),
        // No column of the schema is REAL; an expression that yields one
        // (none today) reads as its integer part.
        ValueRef::Real(v) => Value::Int(v as i64),
        ValueRef::Text(v) => Value::Text(String::from_utf8_lossy(v).into_owned()),
        ValueRef::Blob(v) => Value::Blob(v.to_vec()),
    }
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(v) => ValueRef::Integer(*v),
            Value::Text(v) => ValueRef::Text(v.as_bytes()),
            Value::Blob(v) => ValueRef::Blob(v),
        }))
    }
}

/// `?1`-style placeholders as PostgreSQL's `$1` (a bare `?` takes the next
/// number); quoted text is left alone.
pub(super) fn postgres_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.chars().peekable();
    let mut quote: Option<char> = None;
    let mut next_bare = 1;
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                out.push(c);
                if c == q {
                    quote = None;
                }
            }
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                out.push(c);
            }
            None if c == '?' => {
                out.push('$');
                if chars.peek().is_some_and(|d| d.is_ascii_digit()) {
                    while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                        out.push(d);
                        chars.next();
                    }
                } else {
                    out.push_str(&next_bare.to_string());
                    next_bare += 1;
                }
            }
            None => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_for_postgres_outside_quotes() {
        assert_eq!(
            postgres_placeholders("SELECT ?1, ?12 WHERE a = '?1' AND \"b?\" = ?2"),
            "SELECT $1, $12 WHERE a = '?1' AND \"b?\" = $2"
        );
        assert_eq!(postgres_placeholders("VALUES (?, ?)"), "VALUES ($1, $2)");
    }

    #[test]
    fn rows_convert_and_refuse_mismatches() {
        let row = Row::new(vec![
            Value::Int(7),
            Value::Null,
            Value::Text("x".into()),
            Value::Int(-1),
        ]);
        assert_eq!(row.get::<_, i64>(0).unwrap(), 7);
        assert!(row.get::<_, bool>(0).unwrap());
        assert_eq!(row.get::<_, Option<String>>(1).unwrap(), None);
        assert_eq!(row.get::<_, String>(2).unwrap(), "x");
        assert!(matches!(row.get::<_, i64>(2), Err(DbError::Decode(_))));
        assert!(matches!(row.get::<_, u64>(3), Err(DbError::Decode(_))));
        assert!(matches!(row.get::<_, i64>(9), Err(DbError::Decode(_))));
    }

    #[test]
    fn sqlite_round_trips_every_value_kind() {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        let conn = Conn::sqlite(&c);
        conn.execute_batch("CREATE TABLE t (i INTEGER, s TEXT, b BLOB, n INTEGER)")
            .unwrap();
        let blob = vec![1u8, 2, 3];
        let none: Option<i64> = None;
        let changed = conn
            .execute(
                "INSERT INTO t VALUES (?1, ?2, ?3, ?4)",
                params![5i64, "five", blob, none],
            )
            .unwrap();
        assert_eq!(changed, 1);
        let got = conn
            .query_row("SELECT i, s, b, n FROM t", params![], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                ))
            })
            .unwrap();
        assert_eq!(got, (5, "five".into(), blob, None));
        let missing = conn
            .query_row("SELECT i FROM t WHERE i = ?1", params![6i64], |r| {
                r.get::<_, i64>(0)
            })
            .optional()
            .unwrap();
        assert_eq!(missing, None);
    }
}
