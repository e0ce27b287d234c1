//! Subscription plans, their capability flags and limits.

use serde::{Deserialize, Serialize};

/// A subscription plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Plan {
    /// No paid capability.
    Free,
    /// Calls, presence, rooms signalling.
    Signaling,
    /// Signaling and chat.
    Pro,
    /// Signaling and chat with larger limits.
    Enterprise,
}

/// Per-plan limits (all known; nullness is decided when reporting).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Limits {
    /// Chat history retention in days.
    pub history_days: i64,
    /// Largest group conversation.
    pub max_group_members: i64,
    /// Largest friend list.
    pub max_friends: i64,
    /// Number of chat rooms.
    pub max_chatrooms: i64,
    /// Largest chat attachment upload in bytes (0: no uploads).
    #[serde(default)]
    pub max_upload_bytes: i64,
}

/// Optional per-app overrides of a plan's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct LimitOverrides {
    /// Override of `history_days`.
    pub history_days: Option<i64>,
    /// Override of `max_group_members`.
    pub max_group_members: Option<i64>,
    /// Override of `max_friends`.
    pub max_friends: Option<i64>,
    /// Override of `max_chatrooms`.
    pub max_chatrooms: Option<i64>,
    /// Override of `max_upload_bytes`.
    #[serde(default)]
    pub max_upload_bytes: Option<i64>,
}

impl Plan {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Free => "free",
            Plan::Signaling => "signaling",
            Plan::Pro => "pro",
            Plan::Enterprise => "enterprise",
        }
    }

    /// Parses the wire name.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "free" => Some(Plan::Free),
            "signaling" => Some(Plan::Signaling),
            "pro" => Some(Plan::Pro),
            "enterprise" => Some(Plan::Enterprise),
            _ => None,
        }
    }

    /// Whether the plan includes the `signaling` capability.
    pub fn signaling(self) -> bool {
        !matches!(self, Plan::Free)
    }

    /// Whether the plan includes the `chat` capability.
    pub fn messaging(self) -> bool {
        matches!(self, Plan::Pro | Plan::Enterprise)
    }

    /// The plan's limits (documented in engine-api.md §1.3).
    pub fn limits(self) -> Limits {
        const MIB: i64 = 1024 * 1024;
        let (history_days, max_group_members, max_friends, max_chatrooms, max_upload_bytes) =
            match self {
                Plan::Free => (1, 0, 50, 0, 0),
                Plan::Signaling => (1, 0, 500, 0, 0),
                Plan::Pro => (30, 256, 5_000, 100, 25 * MIB),
                Plan::Enterprise => (365, 2_000, 100_000, 1_000, 100 * MIB),
            };
        Limits {
            history_days,
            max_group_members,
            max_friends,
            max_chatrooms,
            max_upload_bytes,
        }
    }
}

impl LimitOverrides {
    /// Applies the overrides on top of `base`.
    pub fn apply(&self, base: Limits) -> Limits {
        Limits {
            history_days: self.history_days.unwrap_or(base.history_days),
            max_group_members: self.max_group_members.unwrap_or(base.max_group_members),
            max_friends: self.max_friends.unwrap_or(base.max_friends),
            max_chatrooms: self.max_chatrooms.unwrap_or(base.max_chatrooms),
            max_upload_bytes: self.max_upload_bytes.unwrap_or(base.max_upload_bytes),
        }
    }
}
