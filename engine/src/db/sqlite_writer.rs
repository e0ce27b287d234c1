//! The SQLite connection's own thread, which commits concurrent calls
//! together (group commit).
//!
//! SQLite has one writer. When every call took the connection's mutex on a
//! blocking thread and ran its own `BEGIN IMMEDIATE … COMMIT`, a burst of
//! writes (session mints) spent its time handing the mutex and the file
//! locks from thread to thread. Here one thread owns the connection: the
//! calls waiting when it gets to them run in one transaction, each inside a
//! savepoint of its own so that one call's refusal or error rolls back only
//! its own writes, and every caller hears its result after the `COMMIT`.
//! Calls see each other's writes in the order they were queued, exactly as
//! if they had run one after the other.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;

use super::sql::Conn;
use super::DbError;

/// The most calls committed by one transaction: bounds how long the first
/// of them waits for its answer.
const MAX_BATCH: usize = 64;

/// Tells a call how its batch ended, once it has: `None` when the batch
/// committed, the failure otherwise.
pub(super) type Deliver = Box<dyn FnOnce(Option<&DbError>) + Send>;

/// Work for the connection's thread.
pub(super) enum Job {
    /// Runs inside the batch's transaction (under its own savepoint) and
    /// returns how to answer its caller once the batch has ended; given the
    /// failure instead of a connection when no transaction could be opened
    /// for it.
    Write(WriteJob),
    /// Runs outside any transaction (after the writes queued before it have
    /// committed) and answers its caller itself.
    Read(Box<dyn FnOnce(&Conn<'_>) + Send>),
}

/// A write: the connection inside the batch's transaction, or why there is
/// none.
pub(super) type WriteJob = Box<dyn FnOnce(Result<&Conn<'_>, &DbError>) -> WriteOutcome + Send>;

/// What a write job reports back to the thread.
pub(super) struct WriteOutcome {
    /// Whether its savepoint is kept (`false` rolls back its writes).
    pub keep: bool,
    /// Answers the caller after the batch's `COMMIT` (or its failure).
    pub deliver: Deliver,
}

/// Starts the thread that owns `conn`; it stops when every sender is gone.
pub(super) fn spawn(conn: rusqlite::Connection) -> Result<mpsc::Sender<Job>, DbError> {
    let (jobs, queue) = mpsc::channel();
    std::thread::Builder::new()
        .name("utd-sqlite".into())
        .spawn(move || run(conn, queue))
        .map_err(|e| DbError::Task(format!("cannot start the database thread: {e}")))?;
    Ok(jobs)
}

fn run(conn: rusqlite::Connection, queue: mpsc::Receiver<Job>) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = queue.recv() {
        jobs.push(first);
        while jobs.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let mut batch = Batch::default();
        for job in jobs.drain(..) {
            match job {
                Job::Write(write) => batch.run(&conn, write),
                Job::Read(read) => {
                    // A read sees only what has committed.
                    batch.end(&conn);
                    // A panicking read drops its reply sender, which its
                    // caller reports as a failed task.
                    let _ = catch_unwind(AssertUnwindSafe(|| read(&Conn::sqlite(&conn))));
                }
            }
        }
        batch.end(&conn);
    }
}

/// The open transaction and the callers waiting for its end.
#[derive(Default)]
struct Batch {
    open: bool,
    waiting: Vec<Deliver>,
}

impl Batch {
    fn run(&mut self, conn: &rusqlite::Connection, write: WriteJob) {
        if !self.open {
            // IMMEDIATE: the write lock up front, so a CLI writing the same
            // file never makes the transaction fail half-way.
            if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
                refuse(write, &DbError::from(e));
                return;
            }
            self.open = true;
        }
        if let Err(e) = conn.execute_batch("SAVEPOINT call") {
            let failure = DbError::from(e);
            self.abort(conn, &failure);
            refuse(write, &failure);
            return;
        }
        let outcome = catch_unwind(AssertUnwindSafe(|| write(Ok(&Conn::sqlite(conn)))));
        if conn.is_autocommit() {
            // SQLite itself rolled the whole transaction back (some I/O and
            // full-disk errors do): nothing of this batch survives.
            let failure = DbError::Batch("the database rolled the transaction back".into());
            self.open = false;
            self.fail_waiting(&failure);
            if let Ok(outcome) = outcome {
                (outcome.deliver)(Some(&failure));
            }
            return;
        }
        let keep = matches!(&outcome, Ok(o) if o.keep);
        let closed = if keep {
            conn.execute_batch("RELEASE call")
        } else {
            conn.execute_batch("ROLLBACK TO call; RELEASE call")
        };
        if let Err(e) = closed {
            let failure = DbError::from(e);
            self.abort(conn, &failure);
            if let Ok(outcome) = outcome {
                (outcome.deliver)(Some(&failure));
            }
            return;
        }
        // A panicked job dropped its reply sender; its writes are undone.
        if let Ok(outcome) = outcome {
            self.waiting.push(outcome.deliver);
        }
    }

    /// Commits and answers everyone waiting.
    fn end(&mut self, conn: &rusqlite::Connection) {
        if !self.open {
            return;
        }
        self.open = false;
        match conn.execute_batch("COMMIT") {
            Ok(()) => {
                for deliver in self.waiting.drain(..) {
                    deliver(None);
                }
            }
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                self.fail_waiting(&DbError::from(e));
            }
        }
    }

    /// Rolls the batch back and tells everyone waiting why.
    fn abort(&mut self, conn: &rusqlite::Connection, failure: &DbError) {
        if self.open {
            let _ = conn.execute_batch("ROLLBACK");
            self.open = false;
        }
        self.fail_waiting(failure);
    }

    fn fail_waiting(&mut self, failure: &DbError) {
        for deliver in self.waiting.drain(..) {
            deliver(Some(failure));
        }
    }
}

/// Answers a write that cannot be part of a transaction with `failure`.
fn refuse(write: WriteJob, failure: &DbError) {
    if let Ok(outcome) = catch_unwind(AssertUnwindSafe(|| write(Err(failure)))) {
        (outcome.deliver)(Some(failure));
    }
}

#[cfg(test)]
#[path = "sqlite_writer_tests.rs"]
mod tests;
