//! `UTDStreamClient`: the app's entry point.
//!
//! Holds the publishable credentials and one HTTP pool, mints the user
//! session, owns the signalling connection and produces the audio-room and
//! live-stream sessions (`rooms`). Thin: logic lives in `auth`, `api`,
//! `signalling` and `session`.

mod calls;
mod chat;
mod listeners;
mod push;
mod rooms;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

pub use listeners::{UTDCapabilitiesListener, UTDConnectionStateListener, UTDPresenceListener};

use crate::api::credentials::AppCredentials;
use crate::api::EngineApi;
use crate::auth::AuthState;
use crate::error::{UTDResult, UTDStreamError};
use crate::push::PushTokens;
use crate::runtime;
use crate::session::context::SessionContext;
use crate::signalling::backoff::Backoff;
use crate::signalling::Signalling;
use crate::subscription::UTDSubscription;
use crate::types::{UTDCapabilities, UTDConnectionState, UTDPlanLimits, UTDPresence};

/// The SDK entry point: one per signed-in user.
#[derive(Debug, uniffi::Object)]
pub struct UTDStreamClient {
    auth: Arc<AuthState>,
    signalling: Arc<Signalling>,
    push_tokens: PushTokens,
    /// The chat started by `chat()`, with the store directory it uses.
    chat: Mutex<Option<(Arc<crate::chat::exported::UTDChat>, Option<String>)>>,
    disposed: AtomicBool,
}

impl UTDStreamClient {
    /// Builds a client (Rust callers; the exported constructor wraps this).
    pub fn create(
        app_id: String,
        app_key: String,
        base_url: String,
        token_base_url: Option<String>,
    ) -> Result<Self, UTDStreamError> {
        if app_id.trim().is_empty() || app_key.trim().is_empty() {
            return Err(UTDStreamError::invalid_argument(
                "appId and appKey must not be empty",
            ));
        }
        let token_base_url = token_base_url.unwrap_or_else(|| base_url.clone());
        let api = EngineApi::new(
            AppCredentials::new(app_id, app_key),
            &base_url,
            &token_base_url,
        )?;
        let auth = Arc::new(AuthState::new(api));
        let signalling = Arc::new(Signalling::new(auth.clone(), Backoff::default()));
        Ok(Self {
            auth,
            signalling,
            push_tokens: PushTokens::default(),
            chat: Mutex::new(None),
            disposed: AtomicBool::new(false),
        })
    }

    /// The signalling handle (Rust callers: benches, sessions).
    pub fn signalling(&self) -> &Signalling {
        &self.signalling
    }

    /// What room sessions share with the client (Rust callers: tests,
    /// benches, sessions over another transport).
    pub fn session_context(&self) -> SessionContext {
        SessionContext {
            auth: self.auth.clone(),
            signalling: self.signalling.clone(),
        }
    }

    fn check_alive(&self) -> Result<(), UTDStreamError> {
        if self.disposed.load(Ordering::Acquire) {
            Err(UTDStreamError::disposed("UTDStreamClient"))
        } else {
            Ok(())
        }
    }
}

#[uniffi::export]
impl UTDStreamClient {
    /// Creates a client from the publishable `appId` + `appKey` (never a
    /// server secret). `baseUrl` is the engine's REST base; room tokens are
    /// minted at `tokenBaseUrl`, which defaults to `baseUrl`.
    #[uniffi::constructor(default(token_base_url = None))]
    pub fn new(
        app_id: String,
        app_key: String,
        base_url: String,
        token_base_url: Option<String>,
    ) -> UTDResult<Arc<Self>> {
        Ok(Arc::new(Self::create(
            app_id,
            app_key,
            base_url,
            token_base_url,
        )?))
    }

    /// The authenticated user's identity, or null before `authenticate`.
    pub fn identity(&self) -> Option<String> {
        self.auth.current().map(|s| s.identity)
    }

    /// Mints a per-user session bearer for `identity` and keeps it for
    /// privileged calls. Returns the bearer (`user_token`). Refreshes the
    /// plan capabilities.
    #[uniffi::method(default(name = None, device_id = None))]
    pub async fn authenticate(
        self: Arc<Self>,
        identity: String,
        name: Option<String>,
        device_id: Option<String>,
    ) -> UTDResult<String> {
        self.check_alive()?;
        let auth = self.auth.clone();
        let session =
            runtime::run(async move { auth.authenticate(&identity, name, device_id).await })
                .await?;
        Ok(session.bearer.expose().to_owned())
    }

    /// Opens the signalling connection: mints a fresh session for the
    /// authenticated identity (so plan flags are current), then opens the
    /// WebSocket and waits for the engine's hello. Throws the engine's typed
    /// error when refused (`isBanned`, `isSignalingDisabled`) and `network`
    /// when the engine cannot be reached. Once connected, the client
    /// reconnects by itself (jittered exponential backoff) until
    /// `disconnect()`, re-subscribing watched presence each time.
    pub async fn connect(self: Arc<Self>) -> UTDResult<()> {
        self.check_alive()?;
        let client = self.clone();
        runtime::run(async move {
            client.auth.refresh().await?;
            client.signalling.connect().await
        })
        .await?;
        Ok(())
    }

    /// Closes the signalling connection and stops reconnecting. Idempotent.
    pub async fn disconnect(self: Arc<Self>) {
        let client = self.clone();
        let _ = runtime::run(async move {
            client.signalling.disconnect().await;
            Ok(())
        })
        .await;
    }

    /// Current signalling connection state.
    pub fn connection_state(&self) -> UTDConnectionState {
        self.signalling.shared().state.get()
    }

    /// Observes the connection state (current value first).
    pub fn observe_connection_state(
        &self,
        listener: Arc<dyn UTDConnectionStateListener>,
    ) -> Arc<UTDSubscription> {
        Arc::new(
            self.signalling
                .shared()
                .state
                .subscribe(move |state| listener.on_connection_state(state)),
        )
    }

    /// Plan capabilities from the latest session mint or reconnect.
    pub fn capabilities(&self) -> UTDCapabilities {
        self.auth.capabilities.get()
    }

    /// Observes plan capabilities (current value first).
    pub fn observe_capabilities(
        &self,
        listener: Arc<dyn UTDCapabilitiesListener>,
    ) -> Arc<UTDSubscription> {
        Arc::new(
            self.auth
                .capabilities
                .subscribe(move |caps| listener.on_capabilities(caps)),
        )
    }

    /// Whether the paid `signaling` capability is on; null when unknown.
    pub fn signaling_enabled(&self) -> Option<bool> {
        self.auth.capabilities.get().signaling_enabled
    }

    /// Whether the paid `chat` capability is on; null when unknown.
    pub fn chat_enabled(&self) -> Option<bool> {
        self.auth.capabilities.get().chat_enabled
    }

    /// Plan limits; null when the engine reported none.
    pub fn plan_limits(&self) -> Option<UTDPlanLimits> {
        self.auth.capabilities.get().limits
    }

    /// Starts watching these users' presence. Returns once the engine
    /// confirmed when connected; when not connected, the identities are
    /// watched from the next (re)connect on.
    pub async fn watch_presence(self: Arc<Self>, identities: Vec<String>) -> UTDResult<()> {
        self.check_alive()?;
        let client = self.clone();
        Ok(runtime::run(async move { client.signalling.watch(identities).await }).await?)
    }

    /// Stops watching these users and forgets their presence.
    pub async fn unwatch_presence(self: Arc<Self>, identities: Vec<String>) -> UTDResult<()> {
        self.check_alive()?;
        let client = self.clone();
        Ok(runtime::run(async move { client.signalling.unwatch(identities).await }).await?)
    }

    /// The presence of watched users, sorted by identity.
    pub fn presence(&self) -> Vec<UTDPresence> {
        self.signalling
            .shared()
            .presence
            .get()
            .into_values()
            .collect()
    }

    /// Observes watched users' presence (current value first).
    pub fn observe_presence(&self, listener: Arc<dyn UTDPresenceListener>) -> Arc<UTDSubscription> {
        Arc::new(
            self.signalling
                .shared()
                .presence
                .subscribe(move |map| listener.on_presence(map.into_values().collect())),
        )
    }

    /// Signs out: unregisters this device's push tokens (so the signed-out
    /// user's calls stop waking it), revokes the session bearer on the
    /// engine, closes the signalling connection and forgets the identity.
    pub async fn sign_out(self: Arc<Self>) -> UTDResult<()> {
        self.check_alive()?;
        let client = self.clone();
        runtime::run(async move {
            // Before the bearer goes: removing a token needs it. A failure
            // here must not keep the user signed in.
            if let Err(e) = client.unregister_all_push_tokens().await {
                tracing::warn!(target: "utd_stream::push", "push tokens not unregistered at sign-out: {}", e.message());
            }
            client.signalling.disconnect().await;
            match client.auth.clear() {
                Some(session) => client.auth.api.revoke_session(&session.bearer).await,
                None => Ok(()),
            }
        })
        .await?;
        Ok(())
    }

    /// Releases the client: closes signalling and its HTTP pool. Every
    /// later call fails with `disposed`. Sessions are disposed separately.
    pub fn dispose(&self) {
        if !self.disposed.swap(true, Ordering::AcqRel) {
            if let Some((chat, _)) = self.chat.lock().unwrap_or_else(|p| p.into_inner()).take() {
                chat.core().shutdown();
            }
            self.signalling.abort();
            self.auth.clear();
        }
    }
}
