//! Chat: `client.chat(storeDirectory)`.

use std::path::Path;
use std::sync::Arc;

use super::UTDStreamClient;
use crate::chat::exported::UTDChat;
use crate::chat::store::OutboxStore;
use crate::chat::ChatCore;
use crate::error::{UTDResult, UTDStreamError};

#[uniffi::export]
impl UTDStreamClient {
    /// The signed-in user's chat (one per client and identity; the same
    /// object on every call). `storeDirectory` is where unsent messages and
    /// their attachments are kept so they survive the app being killed (an
    /// app-private directory, e.g. Application Support / `filesDir`); null
    /// keeps them in memory only. Needs `authenticate` first.
    #[uniffi::method(default(store_directory = None))]
    pub fn chat(&self, store_directory: Option<String>) -> UTDResult<Arc<UTDChat>> {
        self.check_alive()?;
        let identity = self.identity().ok_or_else(crate::auth::not_authenticated)?;
        let mut slot = self.chat.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((existing, dir)) = &*slot {
            if existing.identity() == identity {
                if *dir != store_directory {
                    return Err(Arc::new(UTDStreamError::invalid_argument(
                        "chat was already started with another store directory",
                    )));
                }
                return Ok(existing.clone());
            }
            existing.core().shutdown();
        }
        let store = match &store_directory {
            Some(dir) => OutboxStore::open(Path::new(dir))?,
            None => OutboxStore::in_memory()?,
        };
        let core = ChatCore::start(self.auth.clone(), self.signalling.clone(), store)?;
        let chat = Arc::new(UTDChat::new(core));
        *slot = Some((chat.clone(), store_directory));
        Ok(chat)
    }
}
