//! The client's push tokens: register, rotate, unregister.

use std::sync::Arc;

use super::UTDStreamClient;
use crate::auth::not_authenticated;
use crate::error::{UTDResult, UTDStreamError};
use crate::push::tokens::token_prefix;
use crate::push::{UTDPushPlatform, UTDPushToken};
use crate::runtime;

impl UTDStreamClient {
    /// Rust form of [`UTDStreamClient::register_push_token`].
    pub async fn register_token(
        &self,
        platform: UTDPushPlatform,
        token: &str,
    ) -> Result<(), UTDStreamError> {
        crate::api::push::validate_push_token(token)?;
        let session = self.auth.current().ok_or_else(not_authenticated)?;
        self.auth
            .api
            .register_push_token(
                &session.bearer,
                platform.as_wire(),
                token,
                session.device_id.as_deref(),
            )
            .await?;
        if let Some(old) = self.push_tokens.remember(platform, token) {
            // The engine already dropped it when this device has an id; an
            // explicit removal covers sessions without one.
            if let Err(e) = self
                .auth
                .api
                .unregister_push_token(&session.bearer, &old)
                .await
            {
                tracing::warn!(target: "utd_stream::push", "old token {} not removed: {}", token_prefix(&old), e.message());
            }
        }
        tracing::info!(target: "utd_stream::push", platform = platform.as_wire(), "push token registered");
        Ok(())
    }

    /// Unregisters every token this client registered. Stops at the first
    /// failure, keeping what was not removed for a retry.
    pub async fn unregister_all_push_tokens(&self) -> Result<(), UTDStreamError> {
        let tokens = self.push_tokens.all();
        if tokens.is_empty() {
            return Ok(());
        }
        let session = self.auth.current().ok_or_else(not_authenticated)?;
        for UTDPushToken { platform, token } in tokens {
            self.auth
                .api
                .unregister_push_token(&session.bearer, &token)
                .await?;
            self.push_tokens.forget(platform, &token);
        }
        tracing::info!(target: "utd_stream::push", "push tokens unregistered");
        Ok(())
    }
}

#[uniffi::export]
impl UTDStreamClient {
    /// Registers this device's push token for `platform` with the engine,
    /// so calls ring it while the app is in the background or killed (once
    /// the engine has APNs / FCM credentials). A new token of the same
    /// platform (the OS rotated it) replaces the previous one. Needs
    /// `authenticate` first; `invalidArgument` for an empty or oversized token.
    pub async fn register_push_token(
        self: Arc<Self>,
        platform: UTDPushPlatform,
        token: String,
    ) -> UTDResult<()> {
        self.check_alive()?;
        let client = self.clone();
        Ok(runtime::run(async move { client.register_token(platform, &token).await }).await?)
    }

    /// Unregisters every push token this client registered (sign-out does
    /// it too, before it drops the session).
    pub async fn unregister_push_tokens(self: Arc<Self>) -> UTDResult<()> {
        self.check_alive()?;
        let client = self.clone();
        Ok(runtime::run(async move { client.unregister_all_push_tokens().await }).await?)
    }

    /// The push tokens this client has registered.
    pub fn push_tokens(&self) -> Vec<UTDPushToken> {
        self.push_tokens.all()
    }
}
