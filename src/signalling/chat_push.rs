//! The chat events the engine pushes over the signal WebSocket, as the chat
//! layer receives them.

use super::protocol::ServerMessage;
use crate::api::chat::{ConversationWire, MessageWire};

/// A chat event pushed by the engine to this user's connections
/// (docs/chat-api.md, "WebSocket").
#[derive(Debug, Clone, PartialEq)]
pub enum ChatPush {
    /// `chat.message`: a new message, with this user's counts after it.
    Message {
        /// The message.
        message: MessageWire,
        /// Unread in its conversation, for this user.
        unread_count: Option<u64>,
        /// Unread over every conversation, for this user.
        total_unread: Option<u64>,
    },
    /// `chat.message.updated`: an edit or a tombstone.
    MessageUpdated(MessageWire),
    /// `chat.receipt`: a member's positions moved.
    Receipt {
        /// The conversation.
        conversation_id: String,
        /// Whose positions.
        identity: String,
        /// Their read position.
        last_read_seq: u64,
        /// Their delivered position.
        last_delivered_seq: u64,
    },
    /// `chat.unread`: this user's own read position moved.
    Unread {
        /// The conversation.
        conversation_id: String,
        /// Unread in it.
        unread_count: u64,
        /// Unread over every conversation.
        total_unread: u64,
    },
    /// `chat.conversation`: created, renamed, members changed.
    Conversation(ConversationWire),
    /// `chat.removed`: this user is no longer a member.
    Removed {
        /// The conversation.
        conversation_id: String,
    },
    /// `typing`: the conversation's full typer list.
    Typing {
        /// The conversation.
        conversation_id: String,
        /// Who types now.
        typers: Vec<String>,
    },
}

impl ChatPush {
    /// The chat push a server message carries, if it is one.
    pub fn from_server(message: ServerMessage) -> Option<Self> {
        Some(match message {
            ServerMessage::ChatMessage {
                message,
                unread_count,
                total_unread,
            } => Self::Message {
                message,
                unread_count,
                total_unread,
            },
            ServerMessage::ChatMessageUpdated { message } => Self::MessageUpdated(message),
            ServerMessage::ChatReceipt {
                conversation_id,
                identity,
                last_read_seq,
                last_delivered_seq,
            } => Self::Receipt {
                conversation_id,
                identity,
                last_read_seq,
                last_delivered_seq,
            },
            ServerMessage::ChatUnread {
                conversation_id,
                unread_count,
                total_unread,
            } => Self::Unread {
                conversation_id,
                unread_count,
                total_unread,
            },
            ServerMessage::ChatConversation { conversation } => Self::Conversation(conversation),
            ServerMessage::ChatRemoved { conversation_id } => Self::Removed { conversation_id },
            ServerMessage::Typing {
                conversation_id,
                typers,
            } => Self::Typing {
                conversation_id,
                typers,
            },
            _ => return None,
        })
    }
}
