//! Answers tapped in the OS call UI before the controller is ready,
//! written down so they survive the process being killed.
//!
//! A cold start races the user: CallKit / Telecom show the call before the
//! app has a session, and an Accept tapped then must not be lost. Each
//! intent is one JSON file entry in the app-given directory, replaced
//! atomically (write, fsync, rename), and carried out by `init()`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::error::UTDStreamError;

/// The store's file in the app's directory.
const FILE_NAME: &str = "utd-call-intents.json";

/// Intents older than this are stale (no call rings that long).
pub const INTENT_TTL_MS: u64 = 10 * 60 * 1000;

/// What the user chose for a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntentAction {
    /// Answer.
    Accept,
    /// Decline.
    Decline,
}

/// One recorded choice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    /// The call.
    pub call_id: String,
    /// The choice.
    pub action: IntentAction,
    /// When it was made (ms since the epoch, device clock).
    pub recorded_at_ms: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct FileForm {
    version: u32,
    intents: Vec<Intent>,
}

/// The durable store (in memory only when the app gave no directory).
#[derive(Debug, Clone)]
pub struct IntentStore {
    path: Option<PathBuf>,
    intents: Arc<Mutex<BTreeMap<String, Intent>>>,
    /// Serializes file writes so an older snapshot never lands last.
    writes: Arc<tokio::sync::Mutex<()>>,
}

impl IntentStore {
    /// A store in `directory` (nothing is read until [`IntentStore::load`]).
    pub fn new(directory: Option<&str>) -> Self {
        Self {
            path: directory.map(|d| Path::new(d).join(FILE_NAME)),
            intents: Arc::default(),
            writes: Arc::default(),
        }
    }

    /// Whether intents survive the process.
    pub fn is_durable(&self) -> bool {
        self.path.is_some()
    }

    /// Reads the file (merging with what was recorded in memory meanwhile)
    /// and returns every live intent. A corrupt file is set aside, not fatal.
    pub async fn load(&self, now_ms: u64) -> Vec<Intent> {
        if let Some(path) = self.path.clone() {
            let read = tokio::task::spawn_blocking(move || read_file(&path)).await;
            match read {
                Ok(Ok(stored)) => {
                    let mut map = self.lock();
                    for intent in stored {
                        map.entry(intent.call_id.clone()).or_insert(intent);
                    }
                }
                Ok(Err(e)) => {
                    tracing::warn!(target: "utd_stream::calls", "call intents unreadable, starting afresh: {}", e.message())
                }
                Err(e) => {
                    tracing::warn!(target: "utd_stream::calls", "call intents read failed: {e}")
                }
            }
        }
        let mut map = self.lock();
        map.retain(|_, i| now_ms.saturating_sub(i.recorded_at_ms) < INTENT_TTL_MS);
        map.values().cloned().collect()
    }

    /// Records `action` for `call_id` (replacing an earlier choice) and
    /// persists it before returning.
    pub async fn record(
        &self,
        call_id: &str,
        action: IntentAction,
        now_ms: u64,
    ) -> Result<(), UTDStreamError> {
        self.lock().insert(
            call_id.to_owned(),
            Intent {
                call_id: call_id.to_owned(),
                action,
                recorded_at_ms: now_ms,
            },
        );
        self.persist().await
    }

    /// The recorded choice for `call_id`.
    pub fn get(&self, call_id: &str) -> Option<Intent> {
        self.lock().get(call_id).cloned()
    }

    /// Forgets `call_id`'s intent once carried out (or moot).
    pub async fn clear(&self, call_id: &str) -> Result<(), UTDStreamError> {
        if self.lock().remove(call_id).is_none() {
            return Ok(());
        }
        self.persist().await
    }

    async fn persist(&self) -> Result<(), UTDStreamError> {
        let Some(path) = self.path.clone() else {
            return Ok(());
        };
        let _one_writer = self.writes.lock().await;
        let snapshot = FileForm {
            version: 1,
            intents: self.lock().values().cloned().collect(),
        };
        tokio::task::spawn_blocking(move || write_file(&path, &snapshot))
            .await
            .map_err(|e| UTDStreamError::internal(format!("intent write task failed: {e}")))?
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Intent>> {
        self.intents.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> UTDStreamError {
    UTDStreamError::internal(format!("cannot {what} {}: {e}", path.display()))
}

fn read_file(path: &Path) -> Result<Vec<Intent>, UTDStreamError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error("read", path, e)),
    };
    match serde_json::from_slice::<FileForm>(&bytes) {
        Ok(form) => Ok(form.intents),
        Err(e) => {
            // Kept for a bug report, out of the way of the next write.
            let aside = path.with_extension("json.corrupt");
            let _ = std::fs::rename(path, &aside);
            Err(UTDStreamError::internal(format!(
                "{} is not an intent file ({e}); moved to {}",
                path.display(),
                aside.display()
            )))
        }
    }
}

fn write_file(path: &Path, form: &FileForm) -> Result<(), UTDStreamError> {
    use std::io::Write as _;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io_error("create", dir, e))?;
    }
    let json = serde_json::to_vec(form)
        .map_err(|e| UTDStreamError::internal(format!("intent encoding failed: {e}")))?;
    let tmp = path.with_extension("json.tmp");
    let mut file = std::fs::File::create(&tmp).map_err(|e| io_error("create", &tmp, e))?;
    file.write_all(&json)
        .and_then(|()| file.sync_all())
        .map_err(|e| io_error("write", &tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| io_error("replace", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_intent_survives_a_new_store_and_stale_ones_are_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path().to_str().expect("utf-8");
        let store = IntentStore::new(Some(d));
        store
            .record("call_a", IntentAction::Accept, 1_000)
            .await
            .expect("record");
        store
            .record("call_b", IntentAction::Decline, 1_000 + INTENT_TTL_MS)
            .await
            .expect("record");
        // "The process was killed": a fresh store reads the file.
        let reborn = IntentStore::new(Some(d));
        let live = reborn.load(1_500 + INTENT_TTL_MS).await;
        assert_eq!(live.len(), 1, "{live:?}");
        assert_eq!(live[0].call_id, "call_b");
        assert_eq!(live[0].action, IntentAction::Decline);
        reborn.clear("call_b").await.expect("clear");
        assert!(IntentStore::new(Some(d)).load(0).await.is_empty());
    }

    #[tokio::test]
    async fn a_corrupt_file_is_set_aside_and_recording_still_works() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(FILE_NAME), b"{not json").expect("write");
        let d = dir.path().to_str().expect("utf-8");
        let store = IntentStore::new(Some(d));
        assert!(store.load(0).await.is_empty());
        assert!(dir.path().join("utd-call-intents.json.corrupt").exists());
        store
            .record("call_c", IntentAction::Accept, 5)
            .await
            .expect("record");
        assert_eq!(IntentStore::new(Some(d)).load(6).await.len(), 1);
    }

    #[tokio::test]
    async fn without_a_directory_intents_live_in_memory() {
        let store = IntentStore::new(None);
        assert!(!store.is_durable());
        store
            .record("call_d", IntentAction::Accept, 1)
            .await
            .expect("record");
        assert_eq!(
            store.get("call_d").map(|i| i.action),
            Some(IntentAction::Accept)
        );
    }
}
