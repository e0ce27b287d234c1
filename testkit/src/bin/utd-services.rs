//! `utd-services`: PostgreSQL and Redis for a run of the test suites against
//! the engine's multi-node stores (`utd_testkit::services`), shared by every
//! test process of the run (each test engine gets a database of its own,
//! `utd_testkit::database`).
//!
//! Prints `UTD_TEST_POSTGRES=…` and `UTD_TEST_REDIS=…` on one line each,
//! then `READY`, and serves until SIGTERM or SIGINT, when both servers are
//! stopped and their data removed.

use anyhow::Result;
use utd_testkit::services::{Postgres, Redis};

fn main() -> Result<()> {
    // On the main thread, which outlives them (each child dies with the
    // thread that spawned it).
    let postgres = Postgres::start()?;
    let redis = Redis::start()?;
    println!("{}={}", utd_testkit::database::POSTGRES_ENV, postgres.url());
    println!("{}={}", utd_testkit::database::REDIS_ENV, redis.url());
    println!("READY");
    utd_testkit::wait_for_stop_signal()?;
    drop(redis);
    drop(postgres);
    Ok(())
}
