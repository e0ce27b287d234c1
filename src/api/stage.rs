//! Live-stream stage: who co-hosts with the host, and who asked to
//! (docs/engine-api.md §7).

use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::credentials::BearerToken;
use super::rooms::validate_room_name;
use super::{validate_identity, Auth, EngineApi};
use crate::error::UTDStreamError;

/// One publisher on the stage of a live stream.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StageMemberWire {
    /// The member's identity.
    pub identity: String,
    /// The member's display name, if they gave one.
    #[serde(default)]
    pub name: Option<String>,
    /// `host` or `co_host`.
    pub role: String,
}

/// A viewer's pending request to join the stage.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StageRequestWire {
    /// Who asked.
    pub identity: String,
    /// Their display name, if they gave one.
    #[serde(default)]
    pub name: Option<String>,
    /// When they asked (ms since the Unix epoch).
    #[serde(default)]
    pub created_at_ms: u64,
}

/// The stage of a live stream: the host first, then co-hosts, plus requests.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StageWire {
    /// Un-prefixed room name.
    pub room_name: String,
    /// Everyone allowed to publish, the host first (while the room has one).
    pub members: Vec<StageMemberWire>,
    /// Pending requests to join the stage.
    #[serde(default)]
    pub requests: Vec<StageRequestWire>,
    /// Increases with every change of the room's stage; the highest wins
    /// when a REST reply and a push cross.
    #[serde(default)]
    pub version: u64,
}

/// Body of `stage/invite` and `stage/remove`.
#[derive(Serialize)]
struct StageTarget<'a> {
    identity: &'a str,
}

impl EngineApi {
    /// `GET /rooms/{room}/stage`: the current stage (anyone in the app).
    pub async fn get_stage(
        &self,
        bearer: &BearerToken,
        room: &str,
    ) -> Result<StageWire, UTDStreamError> {
        self.stage_call::<()>(Method::GET, bearer, room, "", None)
            .await
    }

    /// `POST /rooms/{room}/stage/invite` (host): puts `identity` on the
    /// stage at once. Idempotent.
    pub async fn invite_to_stage(
        &self,
        bearer: &BearerToken,
        room: &str,
        identity: &str,
    ) -> Result<StageWire, UTDStreamError> {
        validate_identity(identity)?;
        let body = StageTarget { identity };
        self.stage_call(Method::POST, bearer, room, "/invite", Some(&body))
            .await
    }

    /// `POST /rooms/{room}/stage/remove` (host): takes a co-host off the
    /// stage (the host cannot be removed).
    pub async fn remove_from_stage(
        &self,
        bearer: &BearerToken,
        room: &str,
        identity: &str,
    ) -> Result<StageWire, UTDStreamError> {
        validate_identity(identity)?;
        let body = StageTarget { identity };
        self.stage_call(Method::POST, bearer, room, "/remove", Some(&body))
            .await
    }

    /// `POST /rooms/{room}/stage/request` (viewer): asks the host to be
    /// put on the stage; the host is told with `stage.requested`.
    pub async fn request_stage(
        &self,
        bearer: &BearerToken,
        room: &str,
    ) -> Result<StageWire, UTDStreamError> {
        self.stage_call::<()>(Method::POST, bearer, room, "/request", None)
            .await
    }

    /// `POST /rooms/{room}/stage/leave` (co-host): steps off the stage.
    /// Idempotent.
    pub async fn leave_stage(
        &self,
        bearer: &BearerToken,
        room: &str,
    ) -> Result<StageWire, UTDStreamError> {
        self.stage_call::<()>(Method::POST, bearer, room, "/leave", None)
            .await
    }

    async fn stage_call<B: Serialize>(
        &self,
        method: Method,
        bearer: &BearerToken,
        room: &str,
        suffix: &str,
        body: Option<&B>,
    ) -> Result<StageWire, UTDStreamError> {
        validate_room_name(room)?;
        let path = format!("api/v1/rooms/{room}/stage{suffix}");
        self.call(method, self.base(), &path, Auth::User(bearer), body)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::credentials::AppCredentials;
    use crate::error::UTDErrorCode;

    #[test]
    fn stage_state_parses_the_contract_example() {
        let stage: StageWire = serde_json::from_str(
            r#"{"room_name":"show",
                "members":[{"identity":"host1","name":"Host","role":"host"},
                           {"identity":"v7","name":null,"role":"co_host"}],
                "requests":[{"identity":"v9","name":null,"created_at_ms":12}],
                "future_field":true}"#,
        )
        .expect("stage state");
        assert_eq!(stage.room_name, "show");
        assert_eq!(stage.members.len(), 2);
        assert_eq!(stage.members[0].role, "host");
        assert_eq!(stage.members[1].name, None);
        assert_eq!(
            stage.requests,
            vec![StageRequestWire {
                identity: "v9".into(),
                name: None,
                created_at_ms: 12
            }]
        );
        let bare: StageWire =
            serde_json::from_str(r#"{"room_name":"show","members":[]}"#).expect("no requests");
        assert!(bare.requests.is_empty());
    }

    #[tokio::test]
    async fn bad_names_are_refused_before_sending() {
        // Nothing listens on this port: a request that got out would fail
        // with `network`, not `invalid_argument`.
        let api = EngineApi::new(
            AppCredentials::new("1234567890".into(), "pk_x".into()),
            "http://127.0.0.1:9",
            "http://127.0.0.1:9",
        )
        .expect("api");
        let bearer = BearerToken::new("utdst_x".into());
        let err = api.get_stage(&bearer, "bad room").await.expect_err("room");
        assert_eq!(err.code(), UTDErrorCode::InvalidArgument);
        let err = api
            .invite_to_stage(&bearer, "show", "bad identity")
            .await
            .expect_err("identity");
        assert_eq!(err.code(), UTDErrorCode::InvalidArgument);
        let err = api
            .remove_from_stage(&bearer, "show", "")
            .await
            .expect_err("empty identity");
        assert_eq!(err.code(), UTDErrorCode::InvalidArgument);
        let err = api.request_stage(&bearer, "").await.expect_err("room");
        assert_eq!(err.code(), UTDErrorCode::InvalidArgument);
    }
}
