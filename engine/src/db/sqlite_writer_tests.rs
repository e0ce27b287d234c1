//! Unit tests of the SQLite thread's batches: the calls queued while the
//! thread is busy share one transaction, and each keeps its own fate.

use std::sync::mpsc;

use super::super::{sqlite_write, Backend, Db, DbError};
use super::Job;
use crate::config::DatabaseLocation;
use crate::db::sql::params;

type Answer = mpsc::Receiver<Result<i64, DbError>>;

fn database() -> Db {
    let db = Db::open(&DatabaseLocation::Memory).expect("open");
    db.call_blocking(|c| {
        c.execute_batch(
            "CREATE TABLE t (x BIGINT PRIMARY KEY);
             CREATE TABLE parent (id BIGINT PRIMARY KEY);
             CREATE TABLE child (parent_id BIGINT REFERENCES parent (id)
                 DEFERRABLE INITIALLY DEFERRED);",
        )
    })
    .expect("schema");
    db
}

fn jobs(db: &Db) -> &mpsc::Sender<Job> {
    match &*db.backend {
        Backend::Sqlite(jobs) => jobs,
        Backend::Postgres { .. } => unreachable!("the tests open SQLite"),
    }
}

/// Keeps the thread busy until the returned sender is used (or dropped), so
/// that the jobs sent meanwhile are taken as one batch.
fn hold(db: &Db) -> mpsc::Sender<()> {
    let (release, wait) = mpsc::channel::<()>();
    let (started, running) = mpsc::channel::<()>();
    jobs(db)
        .send(Job::Read(Box::new(move |_| {
            let _ = started.send(());
            let _ = wait.recv();
        })))
        .expect("send");
    running.recv().expect("the hold runs");
    release
}

/// Queues a write of `x` into `t` that then ends as `end` says.
fn write(db: &Db, x: i64, end: fn(i64) -> Result<i64, DbError>) -> Answer {
    let (reply, answer) = mpsc::channel();
    let job = sqlite_write(
        move |c| {
            c.execute("INSERT INTO t (x) VALUES (?1)", params![x])?;
            end(x)
        },
        move |result| {
            let _ = reply.send(result);
        },
    );
    jobs(db).send(job).expect("send");
    answer
}

fn kept(db: &Db) -> Vec<i64> {
    db.call_blocking(|c| c.query_map("SELECT x FROM t ORDER BY x", params![], |r| r.get(0)))
        .expect("read")
}

fn answer(answer: Answer) -> Result<i64, DbError> {
    answer.recv().expect("every call is answered")
}

#[test]
fn a_refused_call_in_a_batch_undoes_only_its_own_writes() {
    let db = database();
    let release = hold(&db);
    let first = write(&db, 1, Ok);
    let refused = write(&db, 2, |_| Err(DbError::Decode("refused".into())));
    let third = write(&db, 3, Ok);
    drop(release);
    assert_eq!(answer(first).ok(), Some(1));
    assert!(matches!(answer(refused), Err(DbError::Decode(_))));
    assert_eq!(answer(third).ok(), Some(3));
    assert_eq!(kept(&db), vec![1, 3]);
}

#[test]
fn a_panicking_call_undoes_its_writes_and_the_thread_goes_on() {
    let db = database();
    let release = hold(&db);
    let first = write(&db, 1, Ok);
    let panicked = write(&db, 2, |_| panic!("a storage function panicked"));
    let third = write(&db, 3, Ok);
    drop(release);
    assert_eq!(answer(first).ok(), Some(1));
    // Its reply sender went down with it: the caller hears no answer.
    assert!(panicked.recv().is_err());
    assert_eq!(answer(third).ok(), Some(3));
    assert_eq!(kept(&db), vec![1, 3]);
    assert_eq!(answer(write(&db, 4, Ok)).ok(), Some(4));
}

#[test]
fn a_read_sees_the_writes_queued_before_it_and_none_after() {
    let db = database();
    let release = hold(&db);
    let before = write(&db, 1, Ok);
    let (reply, seen) = mpsc::channel();
    jobs(&db)
        .send(Job::Read(Box::new(move |c| {
            let rows: Result<Vec<i64>, DbError> =
                c.query_map("SELECT x FROM t ORDER BY x", params![], |r| r.get(0));
            let _ = reply.send(rows);
        })))
        .expect("send");
    let after = write(&db, 2, Ok);
    drop(release);
    assert_eq!(answer(before).ok(), Some(1));
    assert_eq!(seen.recv().expect("read answered").expect("read"), vec![1]);
    assert_eq!(answer(after).ok(), Some(2));
    assert_eq!(kept(&db), vec![1, 2]);
}

#[test]
fn a_failed_commit_fails_every_call_of_its_batch_and_keeps_nothing() {
    let db = database();
    let release = hold(&db);
    let first = write(&db, 1, Ok);
    // A deferred constraint is only checked by the COMMIT.
    let (reply, orphan) = mpsc::channel();
    jobs(&db)
        .send(sqlite_write(
            |c| c.execute("INSERT INTO child (parent_id) VALUES (7)", params![]),
            move |result| {
                let _ = reply.send(result);
            },
        ))
        .expect("send");
    drop(release);
    assert!(matches!(answer(first), Err(DbError::Batch(_))));
    assert!(matches!(
        orphan.recv().expect("answered"),
        Err(DbError::Batch(_))
    ));
    assert!(kept(&db).is_empty());
    assert_eq!(answer(write(&db, 2, Ok)).ok(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_all_commit() {
    let db = database();
    let calls = (0..500).map(|x| {
        let db = db.clone();
        tokio::spawn(async move {
            db.call(move |c| c.execute("INSERT INTO t (x) VALUES (?1)", params![x]))
                .await
        })
    });
    for call in futures_util::future::join_all(calls).await {
        assert_eq!(call.expect("task").expect("insert"), 1);
    }
    assert_eq!(kept(&db), (0..500).collect::<Vec<_>>());
}
