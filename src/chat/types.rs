//! What apps see of chat: records and enums exported to Swift and Kotlin,
//! and their conversions from the engine's wire types.

use crate::api::chat::{AttachmentWire, ConversationWire, MemberWire, MessageWire};

/// A conversation's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum UTDConversationKind {
    /// Exactly two members, one per pair of users.
    Direct,
    /// A titled group with roles.
    Group,
}

/// A member's role in a group (direct conversations: both `member`...
/// except the creator, `owner`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum UTDChatRole {
    /// Created the group, or inherited it; may do everything.
    Owner,
    /// May rename, add and remove members (not the owner or other admins).
    Admin,
    /// May write and leave.
    Member,
}

impl UTDChatRole {
    /// The engine's name of the role.
    pub fn wire(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Member => "member",
        }
    }

    fn from_wire(role: &str) -> Self {
        match role {
            "owner" => Self::Owner,
            "admin" => Self::Admin,
            _ => Self::Member,
        }
    }
}

/// Where one of this device's messages is on its way to the engine.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum UTDSendState {
    /// Saved on the device, waiting for its turn (or for a connection).
    Queued,
    /// Being sent; `progress` is the share of its attachment bytes already
    /// uploaded (0.0 ..= 1.0; 1.0 without attachments).
    Sending {
        /// Share of attachment bytes uploaded.
        progress: f64,
    },
    /// Not sent. `retryable`: the SDK tries again by itself (network, server
    /// trouble) and `retrySend` helps; false: it will fail again as it is
    /// (refused by the engine: not a member, blocked, too long, ...).
    Failed {
        /// What went wrong, for the UI.
        reason: String,
        /// Whether trying again can help.
        retryable: bool,
    },
    /// On the engine: the item carries its `messageId` and `seq`.
    Sent,
}

/// A file attached to a message.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UTDChatAttachment {
    /// The engine's upload id (null while this device still uploads it).
    pub upload_id: Option<String>,
    /// Its MIME type.
    pub content_type: String,
    /// Its size in bytes.
    pub size: u64,
    /// The name given to it.
    pub file_name: Option<String>,
    /// The device copy being uploaded (only on this device's unsent items).
    pub local_path: Option<String>,
}

impl From<&AttachmentWire> for UTDChatAttachment {
    fn from(a: &AttachmentWire) -> Self {
        Self {
            upload_id: Some(a.upload_id.clone()),
            content_type: a.content_type.clone(),
            size: a.size,
            file_name: a.file_name.clone(),
            local_path: None,
        }
    }
}

/// A file to attach to a message being sent.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UTDOutgoingAttachment {
    /// A readable file; the SDK copies it into its store at `send`, so the
    /// app may delete its own copy afterwards.
    pub path: String,
    /// Its MIME type (one the engine allows, e.g. `image/jpeg`).
    pub content_type: String,
    /// The name to show.
    pub file_name: Option<String>,
}

/// One row of a timeline: a message on the engine, or this device's message
/// on its way there (its local echo).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct UTDTimelineItem {
    /// Stable identity of the row for list UIs (SwiftUI `id`, Compose
    /// `key`, DiffUtil): the same from the local echo to the engine's
    /// message, so the row is updated in place, never removed and re-added.
    pub key: String,
    /// The engine's message id (null until sent).
    pub message_id: Option<String>,
    /// The engine's order in the conversation (null until sent).
    pub seq: Option<u64>,
    /// Who wrote it.
    pub sender_identity: String,
    /// The idempotency key the sending device chose.
    pub client_message_id: String,
    /// The text ("" once deleted).
    pub text: String,
    /// Its attachments.
    pub attachments: Vec<UTDChatAttachment>,
    /// Server time of the send; the device time while unsent.
    pub created_at_ms: u64,
    /// Last edit, if any.
    pub edited_at_ms: Option<u64>,
    /// Deleted (a tombstone stays in place).
    pub deleted: bool,
    /// Written by the signed-in user.
    pub is_own: bool,
    /// Delivery state (`sent` for every message on the engine).
    pub send_state: UTDSendState,
}

/// The row key of a message: sender and idempotency key, unique per
/// conversation on the engine and known before the engine answers.
pub fn item_key(sender: &str, client_message_id: &str) -> String {
    format!("{sender}/{client_message_id}")
}

impl UTDTimelineItem {
    /// A message on the engine, as seen by `me`.
    pub fn from_wire(m: &MessageWire, me: &str) -> Self {
        Self {
            key: item_key(&m.sender_identity, &m.client_message_id),
            message_id: Some(m.message_id.clone()),
            seq: Some(m.seq),
            sender_identity: m.sender_identity.clone(),
            client_message_id: m.client_message_id.clone(),
            text: m.text.clone(),
            attachments: m.attachments.iter().map(UTDChatAttachment::from).collect(),
            created_at_ms: m.created_at_ms,
            edited_at_ms: m.edited_at_ms,
            deleted: m.deleted,
            is_own: m.sender_identity == me,
            send_state: UTDSendState::Sent,
        }
    }
}

/// A member's positions in a conversation (for "seen" marks).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UTDReceipt {
    /// The member.
    pub identity: String,
    /// Read up to this `seq`.
    pub last_read_seq: u64,
    /// Delivered up to this `seq`.
    pub last_delivered_seq: u64,
}

/// What a timeline shows: its items in order, oldest first.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct UTDTimelineSnapshot {
    /// Messages ascending by `seq`, then this device's unsent messages in
    /// the order they were sent.
    pub items: Vec<UTDTimelineItem>,
    /// The oldest message (within retention) is loaded.
    pub hit_start: bool,
    /// Other members' positions, by identity.
    pub receipts: Vec<UTDReceipt>,
}

/// A conversation in the user's list.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct UTDConversation {
    /// The engine's id.
    pub conversation_id: String,
    /// Direct or group.
    pub kind: UTDConversationKind,
    /// Group title (null for direct conversations).
    pub title: Option<String>,
    /// The other member of a direct conversation.
    pub peer_identity: Option<String>,
    /// The user's role.
    pub my_role: UTDChatRole,
    /// How many members.
    pub member_count: u32,
    /// The newest message (tombstones included).
    pub last_message: Option<UTDTimelineItem>,
    /// The list's order: newest activity first.
    pub last_activity_ms: u64,
    /// Unread messages, counted by the engine.
    pub unread_count: u64,
    /// The user's read position.
    pub last_read_seq: u64,
    /// The user's delivered position.
    pub last_delivered_seq: u64,
    /// Highest `seq` assigned.
    pub last_seq: u64,
    /// When it was created.
    pub created_at_ms: u64,
    /// Who created it.
    pub created_by: String,
}

impl UTDConversation {
    /// The engine's conversation as seen by `me`.
    pub fn from_wire(c: &ConversationWire, me: &str) -> Self {
        Self {
            conversation_id: c.conversation_id.clone(),
            kind: if c.kind == "direct" {
                UTDConversationKind::Direct
            } else {
                UTDConversationKind::Group
            },
            title: c.title.clone(),
            peer_identity: c.peer_identity.clone(),
            my_role: UTDChatRole::from_wire(&c.my_role),
            member_count: c.member_count,
            last_message: c
                .last_message
                .as_ref()
                .map(|m| UTDTimelineItem::from_wire(m, me)),
            last_activity_ms: c.last_activity_ms,
            unread_count: c.unread_count,
            last_read_seq: c.last_read_seq,
            last_delivered_seq: c.last_delivered_seq,
            last_seq: c.last_seq,
            created_at_ms: c.created_at_ms,
            created_by: c.created_by.clone(),
        }
    }
}

/// The user's conversations, newest activity first, with the badge total.
#[derive(Debug, Clone, PartialEq, Default, uniffi::Record)]
pub struct UTDConversationList {
    /// Newest activity first (ties by id).
    pub conversations: Vec<UTDConversation>,
    /// Unread over every conversation, as the engine counts it.
    pub total_unread: u64,
    /// The list was read from the engine at least once.
    pub loaded: bool,
}

/// A member of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UTDChatMember {
    /// The member.
    pub identity: String,
    /// Their role.
    pub role: UTDChatRole,
    /// When they joined.
    pub joined_at_ms: u64,
    /// Read up to this `seq`.
    pub last_read_seq: u64,
    /// Delivered up to this `seq`.
    pub last_delivered_seq: u64,
}

impl From<MemberWire> for UTDChatMember {
    fn from(m: MemberWire) -> Self {
        Self {
            role: UTDChatRole::from_wire(&m.role),
            identity: m.identity,
            joined_at_ms: m.joined_at_ms,
            last_read_seq: m.last_read_seq,
            last_delivered_seq: m.last_delivered_seq,
        }
    }
}
