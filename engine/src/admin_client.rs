//! A small client of the `/admin/v1` API, for tests, the demo and tooling.

use serde::Deserialize;
use serde_json::json;

use crate::plans::Plan;

/// Credentials of a newly created app.
#[derive(Clone, Deserialize)]
pub struct AppCredentials {
    /// Public app id.
    pub app_id: String,
    /// Publishable app key.
    pub app_key: String,
    /// Server secret (only ever returned at creation).
    pub server_secret: String,
}

impl std::fmt::Debug for AppCredentials {
    // The secret stays out of test output and logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppCredentials")
            .field("app_id", &self.app_id)
            .field("app_key", &self.app_key)
            .field("server_secret", &"<redacted>")
            .finish()
    }
}

/// Admin API failures.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// Transport failure.
    #[error("admin request failed: {0}")]
    Http(#[from] reqwest::Error),
    /// The engine answered with an error.
    #[error("admin request refused: HTTP {status}: {body}")]
    Status {
        /// HTTP status.
        status: u16,
        /// Response body (the contract's error JSON).
        body: String,
    },
}

/// Client of the admin API.
#[derive(Clone)]
pub struct AdminClient {
    http: reqwest::Client,
    base_url: String,
    admin_token: String,
}

impl AdminClient {
    /// A client for the engine at `base_url` (`http://host:port`).
    pub fn new(base_url: impl Into<String>, admin_token: impl Into<String>) -> Self {
        AdminClient {
            http: reqwest::Client::new(),
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            admin_token: admin_token.into(),
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<reqwest::Response, AdminError> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base_url))
            .bearer_auth(&self.admin_token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await?;
        if resp.status().is_success() {
            Ok(resp)
        } else {
            Err(AdminError::Status {
                status: resp.status().as_u16(),
                body: resp.text().await.unwrap_or_default(),
            })
        }
    }

    /// Creates an app on a plan.
    pub async fn create_app(&self, name: &str, plan: Plan) -> Result<AppCredentials, AdminError> {
        let body = json!({ "name": name, "plan": plan });
        let resp = self
            .send(reqwest::Method::POST, "/admin/v1/apps", Some(body))
            .await?;
        Ok(resp.json().await?)
    }

    /// Sets an app's plan; `report_capabilities: false` makes the engine
    /// report flags and limits as null.
    pub async fn set_plan(
        &self,
        app_id: &str,
        plan: Plan,
        report_capabilities: bool,
    ) -> Result<(), AdminError> {
        let body = json!({ "plan": plan, "report_capabilities": report_capabilities });
        self.send(
            reqwest::Method::PUT,
            &format!("/admin/v1/apps/{app_id}/plan"),
            Some(body),
        )
        .await?;
        Ok(())
    }

    /// Bans an identity (revokes its sessions, closes its sockets).
    pub async fn ban(&self, app_id: &str, identity: &str) -> Result<(), AdminError> {
        let body = json!({ "identity": identity });
        self.send(
            reqwest::Method::POST,
            &format!("/admin/v1/apps/{app_id}/bans"),
            Some(body),
        )
        .await?;
        Ok(())
    }

    /// Lifts a ban.
    pub async fn unban(&self, app_id: &str, identity: &str) -> Result<(), AdminError> {
        self.send(
            reqwest::Method::DELETE,
            &format!("/admin/v1/apps/{app_id}/bans/{identity}"),
            None,
        )
        .await?;
        Ok(())
    }

    /// Sets the app's token buckets.
    pub async fn set_rate_limits(
        &self,
        app_id: &str,
        per_user_per_minute: u32,
        per_app_per_minute: u32,
    ) -> Result<(), AdminError> {
        let body = json!({
            "per_user_per_minute": per_user_per_minute,
            "per_app_per_minute": per_app_per_minute,
        });
        self.send(
            reqwest::Method::PUT,
            &format!("/admin/v1/apps/{app_id}/rate-limits"),
            Some(body),
        )
        .await?;
        Ok(())
    }
}
