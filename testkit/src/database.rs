//! The database of a test engine: SQLite as each test asks, or, when
//! `UTD_TEST_POSTGRES` names a PostgreSQL server (the `utd-services` binary
//! starts one, with a Redis), a database of its own on that server, so the
//! same tests run against both stores.

use std::path::Path;

use anyhow::Context as _;
use sha2::{Digest, Sha256};
use utd_engine::{ConnectionUrl, DatabaseLocation};

/// The variable naming the PostgreSQL server of the PostgreSQL runs
/// (`postgres://user@host:port/postgres`).
pub const POSTGRES_ENV: &str = "UTD_TEST_POSTGRES";

/// The variable naming the Redis of the multi-node runs (`redis://host:port`).
pub const REDIS_ENV: &str = "UTD_TEST_REDIS";

/// The PostgreSQL server of this run, if the tests run against PostgreSQL.
pub fn postgres_server() -> Option<String> {
    std::env::var(POSTGRES_ENV).ok().filter(|v| !v.is_empty())
}

/// The database a test engine uses in place of `location`: unchanged when
/// the tests run on SQLite. On PostgreSQL, `Memory` becomes a new empty
/// database and `File(path)` a database named after the path, created on
/// first use, so an engine restarted with the same configuration finds its
/// data as it would in the file.
pub async fn for_tests(location: &DatabaseLocation) -> anyhow::Result<DatabaseLocation> {
    let Some(server) = postgres_server() else {
        return Ok(location.clone());
    };
    let name = match location {
        DatabaseLocation::Memory => format!("utd_m_{:016x}", rand_suffix()),
        DatabaseLocation::File(path) => format!("utd_f_{}", path_digest(path)),
        DatabaseLocation::Postgres(_) => return Ok(location.clone()),
    };
    let url = database_url(&server, &name)?;
    let admin = server.clone();
    tokio::task::spawn_blocking(move || create_if_missing(&admin, &name))
        .await
        .context("database creation task failed")??;
    Ok(DatabaseLocation::Postgres(ConnectionUrl::new(url)))
}

/// Runs `sql` (one or more statements, no parameters) on a test engine's
/// database, SQLite file or PostgreSQL, e.g. to move a stored deadline
/// into the past. `location` is what [`for_tests`] returned.
pub async fn execute(location: &DatabaseLocation, sql: &str) -> anyhow::Result<()> {
    let location = location.clone();
    let sql = sql.to_owned();
    tokio::task::spawn_blocking(move || match &location {
        DatabaseLocation::File(path) => {
            let conn = rusqlite::Connection::open(path).context("open the SQLite file")?;
            conn.busy_timeout(std::time::Duration::from_secs(5))?;
            conn.execute_batch(&sql).context("run the SQL")
        }
        DatabaseLocation::Postgres(url) => {
            let mut client = postgres::Client::connect(url.expose(), postgres::NoTls)
                .context("connect to PostgreSQL")?;
            client.batch_execute(&sql).context("run the SQL")
        }
        DatabaseLocation::Memory => {
            anyhow::bail!("an in-memory database cannot be reached from outside the engine")
        }
    })
    .await
    .context("SQL task failed")?
}

/// The first column of the first row of `sql`, as an integer (SQLite file
/// or PostgreSQL).
pub async fn query_i64(location: &DatabaseLocation, sql: &str) -> anyhow::Result<i64> {
    let location = location.clone();
    let sql = sql.to_owned();
    tokio::task::spawn_blocking(move || match &location {
        DatabaseLocation::File(path) => {
            let conn = rusqlite::Connection::open(path).context("open the SQLite file")?;
            conn.query_row(&sql, [], |r| r.get(0))
                .context("run the query")
        }
        DatabaseLocation::Postgres(url) => {
            let mut client = postgres::Client::connect(url.expose(), postgres::NoTls)
                .context("connect to PostgreSQL")?;
            let row = client.query_one(&sql, &[]).context("run the query")?;
            Ok(row.try_get::<_, i64>(0)?)
        }
        DatabaseLocation::Memory => {
            anyhow::bail!("an in-memory database cannot be reached from outside the engine")
        }
    })
    .await
    .context("SQL task failed")?
}

/// The Redis of this run, if the tests run against the multi-node stores.
pub fn redis_server() -> Option<String> {
    std::env::var(REDIS_ENV).ok().filter(|v| !v.is_empty())
}

/// A new empty PostgreSQL database on `server`, as a URL (two engine nodes
/// of one test share it).
pub async fn fresh_postgres(server: &str) -> anyhow::Result<String> {
    let name = format!("utd_m_{:016x}", rand_suffix());
    let url = database_url(server, &name)?;
    let admin = server.to_owned();
    tokio::task::spawn_blocking(move || create_if_missing(&admin, &name))
        .await
        .context("database creation task failed")??;
    Ok(url)
}

fn create_if_missing(server: &str, name: &str) -> anyhow::Result<()> {
    let mut client =
        postgres::Client::connect(server, postgres::NoTls).context("connect to PostgreSQL")?;
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])?
        .is_some();
    if !exists {
        // Names are ours (hex digests), never user input.
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .with_context(|| format!("create database {name}"))?;
    }
    Ok(())
}

fn database_url(server: &str, name: &str) -> anyhow::Result<String> {
    let mut url = url::Url::parse(server).context("UTD_TEST_POSTGRES is not a URL")?;
    url.set_path(&format!("/{name}"));
    Ok(url.to_string())
}

fn path_digest(path: &Path) -> String {
    let digest = Sha256::digest(path.to_string_lossy().as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

fn rand_suffix() -> u64 {
    use rand_core::RngCore as _;
    rand_core::OsRng.next_u64()
}
