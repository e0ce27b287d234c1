//! What the engine says about the signed-in user's plan.

use crate::api::models::{LimitsWire, SessionInfoWire};

/// Per-plan limits. Each is null when the engine did not report it.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct UTDPlanLimits {
    /// How many days of chat history the plan keeps.
    pub history_days: Option<i32>,
    /// Largest allowed chat group.
    pub max_group_members: Option<i32>,
    /// Most friends a user may have.
    pub max_friends: Option<i32>,
    /// Most chat rooms an app may have.
    pub max_chatrooms: Option<i32>,
    /// Largest chat attachment in bytes (0: the plan has no uploads).
    pub max_upload_bytes: Option<i64>,
}

impl From<LimitsWire> for UTDPlanLimits {
    fn from(w: LimitsWire) -> Self {
        Self {
            history_days: w.history_days,
            max_group_members: w.max_group_members,
            max_friends: w.max_friends,
            max_chatrooms: w.max_chatrooms,
            max_upload_bytes: w.max_upload_bytes,
        }
    }
}

/// The paid capabilities and limits of the app's plan, as of the last
/// session mint or signalling (re)connect.
///
/// Every flag is nullable: null means the engine did not say (an older
/// engine), which is different from an explicit `false`: let the server
/// decide rather than showing an upsell.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct UTDCapabilities {
    /// Plan name (`free`, `signaling`, `pro`, `enterprise`), when reported.
    pub plan: Option<String>,
    /// Whether the paid `signaling` capability (calls, presence) is on.
    pub signaling_enabled: Option<bool>,
    /// Whether the paid `chat` capability (persistent messaging) is on.
    pub chat_enabled: Option<bool>,
    /// Plan limits; null when the engine reported none of them.
    pub limits: Option<UTDPlanLimits>,
}

impl From<&SessionInfoWire> for UTDCapabilities {
    fn from(info: &SessionInfoWire) -> Self {
        let limits = info
            .limits
            .clone()
            .map(UTDPlanLimits::from)
            .filter(|l| *l != UTDPlanLimits::default());
        Self {
            plan: info.plan.clone(),
            signaling_enabled: info.signaling_enabled,
            chat_enabled: info.messaging_enabled,
            limits,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_or_all_null_limits_mean_unknown() {
        let mut info: SessionInfoWire =
            serde_json::from_str(r#"{"identity":"u1","limits":{"history_days":null}}"#)
                .expect("valid json");
        assert_eq!(UTDCapabilities::from(&info).limits, None);
        assert_eq!(UTDCapabilities::from(&info).signaling_enabled, None);
        info.limits = Some(LimitsWire {
            history_days: Some(7),
            ..LimitsWire::default()
        });
        info.signaling_enabled = Some(false);
        let caps = UTDCapabilities::from(&info);
        assert_eq!(caps.limits.and_then(|l| l.history_days), Some(7));
        assert_eq!(caps.signaling_enabled, Some(false));
    }
}
