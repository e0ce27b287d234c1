//! `utd-s3`: a real S3-compatible store for scripts (the engine API fuzz),
//! the same versitygw set-up the Rust tests use (`utd_testkit::s3`): a free
//! loopback port, random root keys, the bucket created.
//!
//! Prints the engine's settings for it as shell assignments on one line
//! each (`UTD_S3_ENDPOINT=…`, `UTD_S3_BUCKET=…`, `UTD_S3_REGION=…`,
//! `UTD_S3_ACCESS_KEY=…`, `UTD_S3_SECRET_KEY=…`) followed by `READY`, then
//! serves until SIGTERM or SIGINT, when the server is stopped and its data
//! removed.

use anyhow::Result;
use utd_testkit::s3::VersityGw;

fn main() -> Result<()> {
    // On the main thread, which outlives it (the child dies with the thread
    // that spawned it).
    let s3 = VersityGw::start()?;
    println!("UTD_S3_ENDPOINT={}", s3.endpoint());
    println!("UTD_S3_BUCKET={}", s3.bucket());
    println!("UTD_S3_REGION={}", s3.region());
    println!("UTD_S3_ACCESS_KEY={}", s3.access_key());
    println!("UTD_S3_SECRET_KEY={}", s3.secret_key());
    println!("READY");
    utd_testkit::wait_for_stop_signal()?;
    drop(s3);
    Ok(())
}
