//! The signed-in user's engine session, shared by the client and the
//! signalling connection (which re-mints it when the engine says it expired).

use std::sync::Mutex;

use crate::api::credentials::BearerToken;
use crate::api::EngineApi;
use crate::error::UTDStreamError;
use crate::observe::Observable;
use crate::types::UTDCapabilities;

/// Who is signed in, and with which bearer.
#[derive(Debug, Clone)]
pub struct UserSession {
    /// The user's identity (from the engine's reply, not the request).
    pub identity: String,
    /// Display name sent at mint time.
    pub name: Option<String>,
    /// Device id sent at mint time.
    pub device_id: Option<String>,
    /// The engine bearer.
    pub bearer: BearerToken,
}

/// Session state plus the REST facade that mints it.
#[derive(Debug)]
pub struct AuthState {
    /// The client's REST facade (its one HTTP pool).
    pub api: EngineApi,
    session: Mutex<Option<UserSession>>,
    /// Plan flags and limits from the latest mint or signalling hello.
    pub capabilities: Observable<UTDCapabilities>,
}

impl AuthState {
    /// No session yet.
    pub fn new(api: EngineApi) -> Self {
        Self {
            api,
            session: Mutex::new(None),
            capabilities: Observable::new(UTDCapabilities::default()),
        }
    }

    /// Mints a session for `identity` and makes it current.
    pub async fn authenticate(
        &self,
        identity: &str,
        name: Option<String>,
        device_id: Option<String>,
    ) -> Result<UserSession, UTDStreamError> {
        let reply = self
            .api
            .mint_session(identity, name.as_deref(), device_id.as_deref())
            .await?;
        if reply.info.identity != identity {
            return Err(UTDStreamError::protocol(format!(
                "engine minted a session for {:?} when {identity:?} was asked",
                reply.info.identity
            )));
        }
        self.capabilities.set(UTDCapabilities::from(&reply.info));
        let session = UserSession {
            identity: reply.info.identity,
            name,
            device_id,
            bearer: BearerToken::new(reply.user_token),
        };
        *self.lock() = Some(session.clone());
        tracing::info!(target: "utd_stream::auth", identity = %session.identity, "session minted");
        Ok(session)
    }

    /// Mints a fresh session for the current identity (after expiry).
    pub async fn refresh(&self) -> Result<UserSession, UTDStreamError> {
        let current = self.current().ok_or_else(not_authenticated)?;
        self.authenticate(&current.identity, current.name, current.device_id)
            .await
    }

    /// The current session, if any.
    pub fn current(&self) -> Option<UserSession> {
        self.lock().clone()
    }

    /// Forgets the session (sign-out / dispose).
    pub fn clear(&self) -> Option<UserSession> {
        self.capabilities.set(UTDCapabilities::default());
        self.lock().take()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<UserSession>> {
        self.session
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The error for operations that need `authenticate` first.
pub fn not_authenticated() -> UTDStreamError {
    UTDStreamError::invalid_state("not authenticated: call authenticate(identity) first")
}
