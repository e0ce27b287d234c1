//! Chat routes (docs/chat-api.md): conversations, members, messages,
//! history, catch-up and receipts. Wire types mirror the contract; the chat
//! layer (`src/chat`) turns them into what apps see.

use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::credentials::BearerToken;
use super::{validate_identity, Auth, EngineApi};
use crate::error::UTDStreamError;

/// Longest message text the engine accepts (Unicode scalar values).
pub const MAX_TEXT_CHARS: usize = 4000;
/// Most attachments on one message.
pub const MAX_ATTACHMENTS: usize = 10;
/// Largest page the history and changes routes return.
pub const MAX_PAGE: u32 = 100;

/// A conversation as the caller sees it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ConversationWire {
    /// `conv_` + 22 base64url characters.
    pub conversation_id: String,
    /// `direct` or `group`.
    pub kind: String,
    /// Group title; null for direct conversations.
    #[serde(default)]
    pub title: Option<String>,
    /// Creation time (ms since the Unix epoch).
    #[serde(default)]
    pub created_at_ms: u64,
    /// Who created it.
    #[serde(default)]
    pub created_by: String,
    /// How many members it has.
    #[serde(default)]
    pub member_count: u32,
    /// The other member of a direct conversation.
    #[serde(default)]
    pub peer_identity: Option<String>,
    /// The caller's role.
    #[serde(default)]
    pub my_role: String,
    /// Highest sequence number assigned.
    #[serde(default)]
    pub last_seq: u64,
    /// The conversation's modification counter.
    #[serde(default)]
    pub mod_seq: u64,
    /// Newest message within retention.
    #[serde(default)]
    pub last_message: Option<MessageWire>,
    /// The list's order key.
    #[serde(default)]
    pub last_activity_ms: u64,
    /// Unread messages for the caller.
    #[serde(default)]
    pub unread_count: u64,
    /// The caller's read position.
    #[serde(default)]
    pub last_read_seq: u64,
    /// The caller's delivered position.
    #[serde(default)]
    pub last_delivered_seq: u64,
}

/// A member of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MemberWire {
    /// The member.
    pub identity: String,
    /// `owner`, `admin` or `member`.
    pub role: String,
    /// When they joined.
    #[serde(default)]
    pub joined_at_ms: u64,
    /// Their read position.
    #[serde(default)]
    pub last_read_seq: u64,
    /// Their delivered position.
    #[serde(default)]
    pub last_delivered_seq: u64,
}

/// A file attached to a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentWire {
    /// The completed upload.
    pub upload_id: String,
    /// Its MIME type.
    pub content_type: String,
    /// Its size in bytes.
    pub size: u64,
    /// The name the sender gave it.
    #[serde(default)]
    pub file_name: Option<String>,
}

/// A message (or its tombstone).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MessageWire {
    /// `msg_` + 22 base64url characters.
    pub message_id: String,
    /// Its conversation.
    pub conversation_id: String,
    /// Per-conversation order, assigned by the server.
    pub seq: u64,
    /// The conversation's counter at this message's last change.
    pub mod_seq: u64,
    /// Who sent it.
    pub sender_identity: String,
    /// The sender's idempotency key.
    pub client_message_id: String,
    /// The text ("" once deleted).
    #[serde(default)]
    pub text: String,
    /// Attachments ([] once deleted).
    #[serde(default)]
    pub attachments: Vec<AttachmentWire>,
    /// Server time of the send.
    #[serde(default)]
    pub created_at_ms: u64,
    /// Last edit, if any.
    #[serde(default)]
    pub edited_at_ms: Option<u64>,
    /// A tombstone.
    #[serde(default)]
    pub deleted: bool,
}

/// One page of the conversation list.
#[derive(Debug, Clone, Deserialize)]
pub struct ConversationPage {
    /// Newest activity first.
    pub conversations: Vec<ConversationWire>,
    /// Opaque cursor of the next page.
    #[serde(default)]
    pub next_cursor: Option<String>,
    /// The caller's unread total over every conversation.
    #[serde(default)]
    pub total_unread: u64,
}

/// A history page, ascending `seq`.
#[derive(Debug, Clone, Deserialize)]
pub struct HistoryPage {
    /// The messages.
    pub messages: Vec<MessageWire>,
    /// Older messages exist (within retention).
    #[serde(default)]
    pub has_more_before: bool,
    /// Newer messages exist.
    #[serde(default)]
    pub has_more_after: bool,
}

/// What changed since a modification counter.
#[derive(Debug, Clone, Deserialize)]
pub struct ChangesPage {
    /// Changed messages in their latest form, ascending `mod_seq`.
    pub messages: Vec<MessageWire>,
    /// The counter this page brings the reader to.
    pub mod_seq: u64,
    /// More changes follow.
    #[serde(default)]
    pub has_more: bool,
    /// Too much changed: reload the latest page instead.
    #[serde(default)]
    pub reset: bool,
}

/// Positions and counts after a read / delivered receipt.
#[derive(Debug, Clone, Deserialize)]
pub struct ReceiptReply {
    /// The caller's read position.
    pub last_read_seq: u64,
    /// The caller's delivered position.
    pub last_delivered_seq: u64,
    /// Unread in this conversation.
    pub unread_count: u64,
    /// Unread over every conversation.
    pub total_unread: u64,
}

/// Which history page to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryAnchor {
    /// The newest messages.
    Latest,
    /// Messages with a lower `seq`.
    Before(u64),
    /// Messages with a higher `seq`.
    After(u64),
}

#[derive(Serialize)]
struct Direct<'a> {
    identity: &'a str,
}

#[derive(Serialize)]
struct CreateGroup<'a> {
    kind: &'a str,
    title: &'a str,
    members: &'a [String],
}

#[derive(Serialize)]
struct Rename<'a> {
    title: &'a str,
}

#[derive(Serialize)]
struct Identities<'a> {
    identities: &'a [String],
}

#[derive(Serialize)]
struct Role<'a> {
    role: &'a str,
}

#[derive(Serialize)]
struct Send<'a> {
    client_message_id: &'a str,
    text: &'a str,
    attachments: &'a [String],
}

#[derive(Serialize)]
struct Edit<'a> {
    text: &'a str,
}

#[derive(Serialize)]
struct Position {
    seq: u64,
}

#[derive(Deserialize)]
struct Members {
    members: Vec<MemberWire>,
}

/// Conversation and message ids are engine-made tokens; anything else
/// would change the path (`/`, `?`), so it is refused before sending.
pub fn validate_id(id: &str, what: &str) -> Result<(), UTDStreamError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(UTDStreamError::invalid_argument(format!(
            "{what} {id:?} is not an engine id"
        )))
    }
}

fn conv_path(conversation_id: &str) -> Result<String, UTDStreamError> {
    validate_id(conversation_id, "conversation id")?;
    Ok(format!("api/v1/chat/conversations/{conversation_id}"))
}

impl EngineApi {
    /// `POST /chat/conversations/direct`: the one direct conversation with
    /// `identity` (created on first use).
    pub async fn open_direct(
        &self,
        bearer: &BearerToken,
        identity: &str,
    ) -> Result<ConversationWire, UTDStreamError> {
        validate_identity(identity)?;
        let body = Direct { identity };
        self.call(
            Method::POST,
            self.base(),
            "api/v1/chat/conversations/direct",
            Auth::User(bearer),
            Some(&body),
        )
        .await
    }

    /// `POST /chat/conversations`: a new group owned by the caller.
    pub async fn create_group(
        &self,
        bearer: &BearerToken,
        title: &str,
        members: &[String],
    ) -> Result<ConversationWire, UTDStreamError> {
        for member in members {
            validate_identity(member)?;
        }
        let body = CreateGroup {
            kind: "group",
            title,
            members,
        };
        self.call(
            Method::POST,
            self.base(),
            "api/v1/chat/conversations",
            Auth::User(bearer),
            Some(&body),
        )
        .await
    }

    /// `GET /chat/conversations`: one page of the caller's list.
    pub async fn list_conversations(
        &self,
        bearer: &BearerToken,
        cursor: Option<&str>,
    ) -> Result<ConversationPage, UTDStreamError> {
        let mut path = String::from("api/v1/chat/conversations?limit=100");
        if let Some(cursor) = cursor {
            let encoded: String = url::form_urlencoded::byte_serialize(cursor.as_bytes()).collect();
            path.push_str("&cursor=");
            path.push_str(&encoded);
        }
        self.call::<(), _>(Method::GET, self.base(), &path, Auth::User(bearer), None)
            .await
    }

    /// `GET /chat/conversations/{id}`.
    pub async fn conversation(
        &self,
        bearer: &BearerToken,
        conversation_id: &str,
    ) -> Result<ConversationWire, UTDStreamError> {
        let path = conv_path(conversation_id)?;
        self.call::<(), _>(Method::GET, self.base(), &path, Auth::User(bearer), None)
            .await
    }

    /// `PATCH /chat/conversations/{id}`: renames a group.
    pub async fn rename_conversation(
        &self,
        bearer: &BearerToken,
        conversation_id: &str,
        title: &str,
    ) -> Result<ConversationWire, UTDStreamError> {
        let path = conv_path(conversation_id)?;
        self.call(
            Method::PATCH,
            self.base(),
            &path,
            Auth::User(bearer),
            Some(&Rename { title }),
        )
        .await
    }

    /// `GET /chat/conversations/{id}/members`.
    pub async fn members(
        &self,
        bearer: &BearerToken,
        conversation_id: &str,
    ) -> Result<Vec<MemberWire>, UTDStreamError> {
        let path = format!("{}/members", conv_path(conversation_id)?);
        let reply: Members = self
            .call::<(), _>(Method::GET, self.base(), &path, Auth::User(bearer), None)
            .await?;
        Ok(reply.members)
    }

    /// `POST /chat/conversations/{id}/members`: adds members to a group.
    pub async fn add_members(
        &self,
        bearer: &BearerToken,
        conversation_id: &str,
        identities: &[String],
    ) -> Result<Vec<MemberWire>, UTDStreamError> {
        for identity in identities {
            validate_identity(identity)?;
        }
        let path = format!("{}/members", conv_path(conversation_id)?);
        let reply: Members = self
            .call(
                Method::POST,
                self.base(),
                &path,
                Auth::User(bearer),
                Some(&Identities { identities }),
            )
            .await?;
        Ok(reply.members)
    }

    /// `DELETE /chat/conversations/{id}/members/{identity}` (own identity:
    /// leave).
    pub async fn remove_member(
        &self,
        bearer: &BearerToken,
        conversation_id: &str,
        identity: &str,
    ) -> Result<(), UTDStreamError> {
        validate_identity(identity)?;
        let path = format!("{}/members/{identity}", conv_path(conversation_id)?);
        self.call_no_content::<()>(Method::DELETE, self.base(), &path, Auth::User(bearer), None)
            .await
    }

    /// `PUT /chat/conversations/{id}/members/{identity}/role`.
    pub async fn set_role(
        &self,
        bearer: &BearerToken,
        conversation_id: &str,
        identity: &str,
        role: &str,
    ) -> Result<MemberWire, UTDStreamError> {
        validate_identity(identity)?;
        let path = format!("{}/members/{identity}/role", conv_path(conversation_id)?);
        self.call(
            Method::PUT,
            self.base(),
            &path,
            Auth::User(bearer),
            Some(&Role { role }),
        )
        .await
    }

    /// `POST /chat/conversations/{id}/messages`: sends, or returns the
    /// message an earlier send with the same `client_message_id` made.
    pub async fn send_message(
        &self,
        bearer: &BearerToken,
        conversation_id: &str,
        client_message_id: &str,
        text: &str,
        attachments: &[String],
    ) -> Result<MessageWire, UTDStreamError> {
        let path = format!("{}/messages", conv_path(conversation_id)?);
        let body = Send {
            client_message_id,
            text,
            attachments,
        };
        self.call(
            Method::POST,
            self.base(),
            &path,
            Auth::User(bearer),
            Some(&body),
        )
        .await
    }

    /// `PATCH /chat/conversations/{id}/messages/{message_id}`.
    pub async fn edit_message(
        &self,
        bearer: &BearerToken,
        conversation_id: &str,
        message_id: &str,
        text: &str,
    ) -> Result<MessageWire, UTDStreamError> {
        validate_id(message_id, "message id")?;
        let path = format!("{}/messages/{message_id}", conv_path(conversation_id)?);
        self.call(
            Method::PATCH,
            self.base(),
            &path,
            Auth::User(bearer),
            Some(&Edit { text }),
        )
        .await
    }

    /// `DELETE /chat/conversations/{id}/messages/{message_id}`: the
    /// tombstone.
    pub async fn delete_message(
        &self,
        bearer: &BearerToken,
        conversation_id: &str,
        message_id: &str,
    ) -> Result<MessageWire, UTDStreamError> {
        validate_id(message_id, "message id")?;
        let path = format!("{}/messages/{message_id}", conv_path(conversation_id)?);
        self.call::<(), _>(Method::DELETE, self.base(), &path, Auth::User(bearer), None)
            .await
    }

    /// `GET /chat/conversations/{id}/messages`: one history page.
    pub async fn history(
        &self,
        bearer: &BearerToken,
        conversation_id: &str,
        anchor: HistoryAnchor,
        limit: u32,
    ) -> Result<HistoryPage, UTDStreamError> {
        let limit = limit.clamp(1, MAX_PAGE);
        let mut path = format!("{}/messages?limit={limit}", conv_path(conversation_id)?);
        match anchor {
            HistoryAnchor::Latest => {}
            HistoryAnchor::Before(seq) => path.push_str(&format!("&before={seq}")),
            HistoryAnchor::After(seq) => path.push_str(&format!("&after={seq}")),
        }
        self.call::<(), _>(Method::GET, self.base(), &path, Auth::User(bearer), None)
            .await
    }

    /// `GET /chat/conversations/{id}/changes?since=`.
    pub async fn changes(
        &self,
        bearer: &BearerToken,
        conversation_id: &str,
        since: u64,
    ) -> Result<ChangesPage, UTDStreamError> {
        let path = format!(
            "{}/changes?since={since}&limit={MAX_PAGE}",
            conv_path(conversation_id)?
        );
        self.call::<(), _>(Method::GET, self.base(), &path, Auth::User(bearer), None)
            .await
    }

    /// `POST /chat/conversations/{id}/read`.
    pub async fn mark_read(
        &self,
        bearer: &BearerToken,
        conversation_id: &str,
        seq: u64,
    ) -> Result<ReceiptReply, UTDStreamError> {
        let path = format!("{}/read", conv_path(conversation_id)?);
        self.call(
            Method::POST,
            self.base(),
            &path,
            Auth::User(bearer),
            Some(&Position { seq }),
        )
        .await
    }

    /// `POST /chat/conversations/{id}/delivered`.
    pub async fn mark_delivered(
        &self,
        bearer: &BearerToken,
        conversation_id: &str,
        seq: u64,
    ) -> Result<ReceiptReply, UTDStreamError> {
        let path = format!("{}/delivered", conv_path(conversation_id)?);
        self.call(
            Method::POST,
            self.base(),
            &path,
            Auth::User(bearer),
            Some(&Position { seq }),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_would_change_the_path_are_refused() {
        assert!(validate_id("conv_AAAAAAAAAAAAAAAAAAAAAA", "c").is_ok());
        assert!(validate_id("../x", "c").is_err());
        assert!(validate_id("a?b", "c").is_err());
        assert!(validate_id("", "c").is_err());
    }

    #[test]
    fn messages_parse_from_the_contract_shape() {
        let m: MessageWire = serde_json::from_str(
            r#"{"message_id":"msg_1","conversation_id":"conv_1","seq":3,"mod_seq":7,
                "sender_identity":"u1","client_message_id":"c1","text":"hi",
                "attachments":[{"upload_id":"upl_1","content_type":"image/png","size":5,"file_name":null}],
                "created_at_ms":10,"edited_at_ms":null,"deleted":false}"#,
        )
        .expect("message");
        assert_eq!((m.seq, m.mod_seq), (3, 7));
        assert_eq!(m.attachments[0].size, 5);
    }
}
