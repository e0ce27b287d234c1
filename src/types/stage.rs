//! The live-stream stage (host + co-publishers) as the app sees it.

use crate::api::stage::{StageMemberWire, StageRequestWire, StageWire};

/// A stage member's role.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum UTDStageRole {
    /// The room's owner; always on stage while the room has one.
    Host,
    /// A viewer the host invited to publish.
    CoHost,
    /// A role this SDK version does not know (a newer engine).
    Other {
        /// The engine's name for it.
        role: String,
    },
}

impl UTDStageRole {
    fn from_wire(role: String) -> Self {
        match role.as_str() {
            "host" => Self::Host,
            "co_host" => Self::CoHost,
            _ => Self::Other { role },
        }
    }
}

/// Someone on stage (allowed to publish camera and microphone).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UTDStageMember {
    /// Their identity.
    pub identity: String,
    /// Their display name, if known.
    pub name: Option<String>,
    /// Host or co-host.
    pub role: UTDStageRole,
}

/// A viewer's raised hand.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UTDStageRequest {
    /// Who asked.
    pub identity: String,
    /// Their display name, if known.
    pub name: Option<String>,
    /// When they asked (ms since the Unix epoch).
    pub created_at_ms: u64,
}

/// The stage of a live stream.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UTDStage {
    /// The (un-prefixed) room name.
    pub room_name: String,
    /// Host first, then co-hosts.
    pub members: Vec<UTDStageMember>,
    /// Pending requests to join the stage.
    pub requests: Vec<UTDStageRequest>,
    /// Increases with every change; a newer stage never has a lower version.
    pub version: u64,
}

#[uniffi::export]
impl UTDStage {
    /// Whether `identity` is on stage.
    pub fn has_member(&self, identity: &str) -> bool {
        self.members.iter().any(|m| m.identity == identity)
    }
}

impl From<StageWire> for UTDStage {
    fn from(wire: StageWire) -> Self {
        Self {
            room_name: wire.room_name,
            members: wire.members.into_iter().map(UTDStageMember::from).collect(),
            requests: wire
                .requests
                .into_iter()
                .map(UTDStageRequest::from)
                .collect(),
            version: wire.version,
        }
    }
}

impl From<StageMemberWire> for UTDStageMember {
    fn from(wire: StageMemberWire) -> Self {
        Self {
            identity: wire.identity,
            name: wire.name,
            role: UTDStageRole::from_wire(wire.role),
        }
    }
}

impl From<StageRequestWire> for UTDStageRequest {
    fn from(wire: StageRequestWire) -> Self {
        Self {
            identity: wire.identity,
            name: wire.name,
            created_at_ms: wire.created_at_ms,
        }
    }
}
