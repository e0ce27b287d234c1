//! The durable send queue: SQLite in the app's directory.
//!
//! A message is written here (and its attachments copied next to the
//! database) before `send` returns, so an app killed a moment later still
//! sends it at the next start. Rows are ordered by an autoincrement id:
//! the queue sends them in that order per conversation. Each attachment
//! row remembers how far its upload got (presigned, PUT done, completed),
//! so a restart resumes instead of starting over. The queue belongs to one
//! identity: rows of another user signed in on the same device stay put.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{params, Connection, OptionalExtension};

use crate::error::UTDStreamError;

/// How long a write waits for another connection's write to the store.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    identity TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    client_message_id TEXT NOT NULL UNIQUE,
    text TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    failed_reason TEXT,
    retryable INTEGER NOT NULL DEFAULT 1,
    -- A send request left for the engine at least once: it may be there.
    attempted INTEGER NOT NULL DEFAULT 0,
    -- Deleted by the app after an attempt: sent (idempotently) and deleted.
    discard INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS outbox_attachments (
    client_message_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    path TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    file_name TEXT,
    upload_id TEXT,
    put_url TEXT,
    put_headers TEXT,
    put_expires_ms INTEGER,
    uploaded INTEGER NOT NULL DEFAULT 0,
    ready INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (client_message_id, idx)
);
";

/// How far one attachment's upload got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAttachment {
    /// Position on the message.
    pub idx: u32,
    /// The store's copy of the file.
    pub path: PathBuf,
    /// MIME type.
    pub content_type: String,
    /// Bytes.
    pub size: u64,
    /// Name to show.
    pub file_name: Option<String>,
    /// The engine's upload, once presigned.
    pub upload_id: Option<String>,
    /// The presigned PUT (URL, headers as JSON, expiry), while usable.
    pub put: Option<(String, String, u64)>,
    /// The PUT succeeded.
    pub uploaded: bool,
    /// The engine marked it ready.
    pub ready: bool,
}

/// A message waiting to be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// Queue order.
    pub id: i64,
    /// Its conversation.
    pub conversation_id: String,
    /// Its idempotency key (reused by every retry).
    pub client_message_id: String,
    /// Text.
    pub text: String,
    /// Device time of the send.
    pub created_at_ms: u64,
    /// Why the last attempt failed, and whether trying again can help.
    pub failure: Option<(String, bool)>,
    /// A send request was made at least once (the engine may have it).
    pub attempted: bool,
    /// The app deleted it after an attempt: the queue makes sure the
    /// engine's copy, if any, is deleted.
    pub discard: bool,
    /// Attachments in order.
    pub attachments: Vec<StoredAttachment>,
}

/// The queue's database.
#[derive(Debug)]
pub struct OutboxStore {
    conn: Mutex<Connection>,
    files: Option<PathBuf>,
}

fn db_error(e: rusqlite::Error) -> UTDStreamError {
    UTDStreamError::internal(format!("the chat store failed: {e}"))
}

fn io_error(e: std::io::Error, what: &str) -> UTDStreamError {
    UTDStreamError::invalid_argument(format!("{what}: {e}"))
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

impl OutboxStore {
    /// Opens (or creates) the store in `directory`.
    pub fn open(directory: &Path) -> Result<Self, UTDStreamError> {
        std::fs::create_dir_all(directory.join("attachments"))
            .map_err(|e| io_error(e, "the chat store directory cannot be created"))?;
        let conn = Connection::open(directory.join("utd-chat.sqlite3")).map_err(db_error)?;
        // A second connection to the same file (a client being replaced, an
        // app extension) waits for the other's write instead of failing
        // with "database is locked".
        conn.busy_timeout(BUSY_TIMEOUT).map_err(db_error)?;
        conn.execute_batch(SCHEMA).map_err(db_error)?;
        Ok(Self {
            conn: Mutex::new(conn),
            files: Some(directory.join("attachments")),
        })
    }

    /// A store that lasts as long as the process (no directory given).
    pub fn in_memory() -> Result<Self, UTDStreamError> {
        let conn = Connection::open_in_memory().map_err(db_error)?;
        conn.execute_batch(SCHEMA).map_err(db_error)?;
        Ok(Self {
            conn: Mutex::new(conn),
            files: None,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a message; attachments are copied into the store first (so
    /// the app's file may go away). Returns the stored row.
    pub fn enqueue(
        &self,
        identity: &str,
        conversation_id: &str,
        client_message_id: &str,
        text: &str,
        created_at_ms: u64,
        attachments: &[(PathBuf, String, Option<String>)],
    ) -> Result<StoredMessage, UTDStreamError> {
        let mut stored = Vec::with_capacity(attachments.len());
        for (idx, (source, content_type, file_name)) in attachments.iter().enumerate() {
            let size = std::fs::metadata(source)
                .map_err(|e| io_error(e, "an attachment cannot be read"))?
                .len();
            let path = match &self.files {
                Some(dir) => {
                    let copy = dir.join(format!("{client_message_id}-{idx}"));
                    std::fs::copy(source, &copy)
                        .map_err(|e| io_error(e, "an attachment cannot be copied"))?;
                    copy
                }
                None => source.clone(),
            };
            stored.push(StoredAttachment {
                idx: u32::try_from(idx).unwrap_or(u32::MAX),
                path,
                content_type: content_type.clone(),
                size,
                file_name: file_name.clone(),
                upload_id: None,
                put: None,
                uploaded: false,
                ready: false,
            });
        }
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(db_error)?;
        tx.execute(
            "INSERT INTO outbox (identity, conversation_id, client_message_id, text, created_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                identity,
                conversation_id,
                client_message_id,
                text,
                to_i64(created_at_ms)
            ],
        )
        .map_err(db_error)?;
        let id = tx.last_insert_rowid();
        for a in &stored {
            tx.execute(
                "INSERT INTO outbox_attachments (client_message_id, idx, path, content_type, size, file_name)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    client_message_id,
                    a.idx,
                    a.path.to_string_lossy(),
                    a.content_type,
                    to_i64(a.size),
                    a.file_name
                ],
            )
            .map_err(db_error)?;
        }
        tx.commit().map_err(db_error)?;
        Ok(StoredMessage {
            id,
            conversation_id: conversation_id.to_owned(),
            client_message_id: client_message_id.to_owned(),
            text: text.to_owned(),
            created_at_ms,
            failure: None,
            attempted: false,
            discard: false,
            attachments: stored,
        })
    }

    /// Every queued message of `identity`, in queue order.
    pub fn pending(&self, identity: &str) -> Result<Vec<StoredMessage>, UTDStreamError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare(
                "SELECT id, conversation_id, client_message_id, text, created_at_ms, failed_reason, retryable,
                        attempted, discard
                 FROM outbox WHERE identity = ?1 ORDER BY id",
            )
            .map_err(db_error)?;
        let rows = stmt
            .query_map(params![identity], |r| {
                let reason: Option<String> = r.get(5)?;
                let retryable: bool = r.get(6)?;
                Ok(StoredMessage {
                    id: r.get(0)?,
                    conversation_id: r.get(1)?,
                    client_message_id: r.get(2)?,
                    text: r.get(3)?,
                    created_at_ms: to_u64(r.get(4)?),
                    failure: reason.map(|reason| (reason, retryable)),
                    attempted: r.get(7)?,
                    discard: r.get(8)?,
                    attachments: Vec::new(),
                })
            })
            .map_err(db_error)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_error)?;
        drop(stmt);
        let mut out = Vec::with_capacity(rows.len());
        for mut message in rows {
            message.attachments = attachments_of(&conn, &message.client_message_id)?;
            out.push(message);
        }
        Ok(out)
    }

    /// Records a failed attempt (`None`: clears it, e.g. for a retry).
    pub fn set_failure(
        &self,
        client_message_id: &str,
        failure: Option<(&str, bool)>,
    ) -> Result<(), UTDStreamError> {
        let (reason, retryable) = match failure {
            Some((reason, retryable)) => (Some(reason), retryable),
            None => (None, true),
        };
        self.lock()
            .execute(
                "UPDATE outbox SET failed_reason = ?2, retryable = ?3 WHERE client_message_id = ?1",
                params![client_message_id, reason, retryable],
            )
            .map_err(db_error)?;
        Ok(())
    }

    /// Changes the text of a message not sent yet; false when it is gone.
    pub fn set_text(&self, client_message_id: &str, text: &str) -> Result<bool, UTDStreamError> {
        let changed = self
            .lock()
            .execute(
                "UPDATE outbox SET text = ?2 WHERE client_message_id = ?1",
                params![client_message_id, text],
            )
            .map_err(db_error)?;
        Ok(changed > 0)
    }

    /// Records that a send request of this message is about to leave.
    pub fn mark_attempted(&self, client_message_id: &str) -> Result<(), UTDStreamError> {
        self.lock()
            .execute(
                "UPDATE outbox SET attempted = 1 WHERE client_message_id = ?1",
                params![client_message_id],
            )
            .map_err(db_error)?;
        Ok(())
    }

    /// Whether a send request of this message ever left (false when it is
    /// not queued).
    pub fn attempted(&self, client_message_id: &str) -> Result<bool, UTDStreamError> {
        self.lock()
            .query_row(
                "SELECT attempted FROM outbox WHERE client_message_id = ?1",
                params![client_message_id],
                |r| r.get::<_, bool>(0),
            )
            .optional()
            .map(|found| found.unwrap_or(false))
            .map_err(db_error)
    }

    /// Marks a message the app deleted after an attempt; false when it is
    /// not queued any more.
    pub fn discard(&self, client_message_id: &str) -> Result<bool, UTDStreamError> {
        let changed = self
            .lock()
            .execute(
                "UPDATE outbox SET discard = 1 WHERE client_message_id = ?1",
                params![client_message_id],
            )
            .map_err(db_error)?;
        Ok(changed > 0)
    }

    /// The queued text of a message and whether it is to be discarded;
    /// None when it is not queued any more.
    pub fn current(
        &self,
        client_message_id: &str,
    ) -> Result<Option<(String, bool)>, UTDStreamError> {
        self.lock()
            .query_row(
                "SELECT text, discard FROM outbox WHERE client_message_id = ?1",
                params![client_message_id],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?)),
            )
            .optional()
            .map_err(db_error)
    }

    /// Saves an attachment's upload progress.
    pub fn save_attachment(
        &self,
        client_message_id: &str,
        a: &StoredAttachment,
    ) -> Result<(), UTDStreamError> {
        let (url, headers, expires) = match &a.put {
            Some((url, headers, expires)) => (
                Some(url.as_str()),
                Some(headers.as_str()),
                Some(to_i64(*expires)),
            ),
            None => (None, None, None),
        };
        self.lock()
            .execute(
                "UPDATE outbox_attachments SET upload_id = ?3, put_url = ?4, put_headers = ?5,
                 put_expires_ms = ?6, uploaded = ?7, ready = ?8
                 WHERE client_message_id = ?1 AND idx = ?2",
                params![
                    client_message_id,
                    a.idx,
                    a.upload_id,
                    url,
                    headers,
                    expires,
                    a.uploaded,
                    a.ready
                ],
            )
            .map_err(db_error)?;
        Ok(())
    }

    /// Removes a sent (or discarded) message and its file copies.
    pub fn remove(&self, client_message_id: &str) -> Result<(), UTDStreamError> {
        let mut conn = self.lock();
        let files = attachments_of(&conn, client_message_id)?;
        let tx = conn.transaction().map_err(db_error)?;
        tx.execute(
            "DELETE FROM outbox_attachments WHERE client_message_id = ?1",
            params![client_message_id],
        )
        .map_err(db_error)?;
        tx.execute(
            "DELETE FROM outbox WHERE client_message_id = ?1",
            params![client_message_id],
        )
        .map_err(db_error)?;
        tx.commit().map_err(db_error)?;
        if self.files.is_some() {
            for a in files {
                // A leftover copy only costs space; never fail a send for it.
                let _ = std::fs::remove_file(&a.path);
            }
        }
        Ok(())
    }

    /// Whether `client_message_id` is still queued.
    pub fn contains(&self, client_message_id: &str) -> Result<bool, UTDStreamError> {
        self.lock()
            .query_row(
                "SELECT 1 FROM outbox WHERE client_message_id = ?1",
                params![client_message_id],
                |_| Ok(()),
            )
            .optional()
            .map(|found| found.is_some())
            .map_err(db_error)
    }
}

fn attachments_of(
    conn: &Connection,
    client_message_id: &str,
) -> Result<Vec<StoredAttachment>, UTDStreamError> {
    let mut stmt = conn
        .prepare(
            "SELECT idx, path, content_type, size, file_name, upload_id, put_url, put_headers,
                    put_expires_ms, uploaded, ready
             FROM outbox_attachments WHERE client_message_id = ?1 ORDER BY idx",
        )
        .map_err(db_error)?;
    let rows = stmt
        .query_map(params![client_message_id], |r| {
            let url: Option<String> = r.get(6)?;
            let headers: Option<String> = r.get(7)?;
            let expires: Option<i64> = r.get(8)?;
            let put = match (url, headers, expires) {
                (Some(u), Some(h), Some(e)) => Some((u, h, to_u64(e))),
                _ => None,
            };
            let path: String = r.get(1)?;
            Ok(StoredAttachment {
                idx: r.get(0)?,
                path: PathBuf::from(path),
                content_type: r.get(2)?,
                size: to_u64(r.get(3)?),
                file_name: r.get(4)?,
                upload_id: r.get(5)?,
                put,
                uploaded: r.get(9)?,
                ready: r.get(10)?,
            })
        })
        .map_err(db_error)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(db_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queued_messages_survive_reopening_in_order_per_identity() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("photo.png");
        std::fs::write(&file, b"12345").expect("file");
        {
            let store = OutboxStore::open(dir.path()).expect("open");
            store
                .enqueue("me", "conv_a", "c1", "one", 1, &[])
                .expect("c1");
            store
                .enqueue(
                    "me",
                    "conv_a",
                    "c2",
                    "two",
                    2,
                    &[(file.clone(), "image/png".into(), None)],
                )
                .expect("c2");
            store
                .enqueue("other", "conv_a", "x1", "not mine", 3, &[])
                .expect("x1");
            store
                .enqueue("me", "conv_b", "c3", "three", 4, &[])
                .expect("c3");
            let mut pending = store.pending("me").expect("pending");
            let a = &mut pending[1].attachments[0];
            a.upload_id = Some("upl_1".into());
            a.put = Some(("https://s3/x".into(), "{}".into(), 99));
            store.save_attachment("c2", a).expect("progress");
            store
                .set_failure("c3", Some(("blocked", false)))
                .expect("failure");
        }
        std::fs::remove_file(&file).expect("the app deletes its copy");
        let store = OutboxStore::open(dir.path()).expect("reopen");
        let pending = store.pending("me").expect("pending");
        let ids: Vec<_> = pending
            .iter()
            .map(|m| m.client_message_id.as_str())
            .collect();
        assert_eq!(ids, ["c1", "c2", "c3"]);
        let a = &pending[1].attachments[0];
        assert_eq!((a.size, a.upload_id.as_deref()), (5, Some("upl_1")));
        assert_eq!(a.put.as_ref().map(|p| p.2), Some(99));
        assert!(!a.uploaded && !a.ready);
        assert_eq!(std::fs::read(&a.path).expect("the store's copy"), b"12345");
        assert_eq!(pending[2].failure, Some(("blocked".into(), false)));

        store.remove("c2").expect("sent");
        assert!(!a.path.exists(), "the copy goes with the row");
        assert!(!store.contains("c2").expect("query"));
        assert!(store.set_text("c1", "edited").expect("edit"));
        assert!(!store.attempted("c1").expect("attempted"));
        store.mark_attempted("c1").expect("attempt");
        assert!(store.attempted("c1").expect("attempted"));
        assert!(store.discard("c1").expect("discard"));
        assert_eq!(
            store.current("c1").expect("current"),
            Some(("edited".to_owned(), true))
        );
        assert_eq!(store.current("c2").expect("current"), None);
        assert!(!store.discard("c2").expect("gone"));
        assert_eq!(store.pending("me").expect("pending")[0].text, "edited");
        assert_eq!(store.pending("other").expect("pending").len(), 1);
    }

    #[test]
    fn a_missing_attachment_is_refused_before_anything_is_queued() {
        let store = OutboxStore::in_memory().expect("store");
        let err = store
            .enqueue(
                "me",
                "conv_a",
                "c1",
                "",
                1,
                &[("/nonexistent/x.png".into(), "image/png".into(), None)],
            )
            .expect_err("no such file");
        assert!(err.message().contains("cannot be read"));
        assert!(store.pending("me").expect("pending").is_empty());
    }
}
