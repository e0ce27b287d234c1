//! The conversation list, pure: the engine's list merged with pushes.
//! Counts (unread, total) are always the engine's own numbers, taken from
//! the newest list read or push, so badges never drift by local counting.

use std::collections::HashMap;

use super::types::{UTDConversation, UTDConversationList};
use crate::api::chat::{ConversationWire, MessageWire};

/// The list behind `UTDChat.conversations`.
#[derive(Debug, Clone, Default)]
pub struct ConversationListState {
    by_id: HashMap<String, ConversationWire>,
    total_unread: u64,
    loaded: bool,
}

impl ConversationListState {
    /// Replaces everything with a full read of the list.
    pub fn replace(&mut self, conversations: Vec<ConversationWire>, total_unread: u64) {
        self.by_id = conversations
            .into_iter()
            .map(|c| (c.conversation_id.clone(), c))
            .collect();
        self.total_unread = total_unread;
        self.loaded = true;
    }

    /// A conversation, if listed.
    pub fn get(&self, conversation_id: &str) -> Option<&ConversationWire> {
        self.by_id.get(conversation_id)
    }

    /// Every listed conversation's id and modification counter.
    pub fn mod_seqs(&self) -> Vec<(String, u64)> {
        self.by_id
            .values()
            .map(|c| (c.conversation_id.clone(), c.mod_seq))
            .collect()
    }

    /// Adds or replaces one conversation (created, renamed, joined). The
    /// newer of two last messages and counters is kept.
    pub fn upsert(&mut self, mut conversation: ConversationWire) {
        if let Some(current) = self.by_id.get(&conversation.conversation_id) {
            if current.mod_seq > conversation.mod_seq {
                conversation.last_message = current.last_message.clone();
                conversation.mod_seq = current.mod_seq;
                conversation.last_seq = conversation.last_seq.max(current.last_seq);
                conversation.last_activity_ms =
                    conversation.last_activity_ms.max(current.last_activity_ms);
            }
        }
        self.by_id
            .insert(conversation.conversation_id.clone(), conversation);
    }

    /// Removes a conversation (the user left or was removed).
    pub fn remove(&mut self, conversation_id: &str) -> bool {
        self.by_id.remove(conversation_id).is_some()
    }

    /// A new message; false when its conversation is not listed (the
    /// caller reads it from the engine).
    pub fn on_message(
        &mut self,
        message: &MessageWire,
        unread_count: Option<u64>,
        total_unread: Option<u64>,
    ) -> bool {
        if let Some(total) = total_unread {
            self.total_unread = total;
        }
        let Some(c) = self.by_id.get_mut(&message.conversation_id) else {
            return false;
        };
        let newer = c.last_message.as_ref().is_none_or(|last| {
            message.seq > last.seq || (message.seq == last.seq && message.mod_seq > last.mod_seq)
        });
        if newer {
            c.last_message = Some(message.clone());
            c.last_activity_ms = c.last_activity_ms.max(message.created_at_ms);
        }
        c.last_seq = c.last_seq.max(message.seq);
        c.mod_seq = c.mod_seq.max(message.mod_seq);
        if let Some(unread) = unread_count {
            c.unread_count = unread;
        }
        true
    }

    /// An edit or tombstone: replaces the last message if it is that one.
    pub fn on_updated(&mut self, message: &MessageWire) {
        if let Some(c) = self.by_id.get_mut(&message.conversation_id) {
            c.mod_seq = c.mod_seq.max(message.mod_seq);
            if let Some(last) = &c.last_message {
                if last.message_id == message.message_id && last.mod_seq < message.mod_seq {
                    c.last_message = Some(message.clone());
                }
            }
        }
    }

    /// The user's own read position moved (any of their devices).
    pub fn on_unread(&mut self, conversation_id: &str, unread_count: u64, total_unread: u64) {
        self.total_unread = total_unread;
        if let Some(c) = self.by_id.get_mut(conversation_id) {
            c.unread_count = unread_count;
        }
    }

    /// The user's own positions, from a receipt reply or push.
    pub fn on_own_positions(&mut self, conversation_id: &str, read: u64, delivered: u64) {
        if let Some(c) = self.by_id.get_mut(conversation_id) {
            c.last_read_seq = c.last_read_seq.max(read);
            c.last_delivered_seq = c.last_delivered_seq.max(delivered);
        }
    }

    /// What the app sees: newest activity first, ties by id.
    pub fn snapshot(&self, me: &str) -> UTDConversationList {
        let mut list: Vec<&ConversationWire> = self.by_id.values().collect();
        list.sort_by(|a, b| {
            b.last_activity_ms
                .cmp(&a.last_activity_ms)
                .then_with(|| a.conversation_id.cmp(&b.conversation_id))
        });
        UTDConversationList {
            conversations: list
                .into_iter()
                .map(|c| UTDConversation::from_wire(c, me))
                .collect(),
            total_unread: self.total_unread,
            loaded: self.loaded,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(id: &str, activity: u64) -> ConversationWire {
        serde_json::from_value(serde_json::json!({
            "conversation_id": id, "kind": "direct", "created_at_ms": 1, "created_by": "me",
            "member_count": 2, "peer_identity": "bob", "my_role": "owner", "last_seq": 0,
            "mod_seq": 0, "last_message": null, "last_activity_ms": activity,
            "unread_count": 0, "last_read_seq": 0, "last_delivered_seq": 0
        }))
        .expect("conversation")
    }

    fn message(conv: &str, seq: u64, at: u64) -> MessageWire {
        serde_json::from_value(serde_json::json!({
            "message_id": format!("msg_{seq}"), "conversation_id": conv, "seq": seq,
            "mod_seq": seq, "sender_identity": "bob", "client_message_id": format!("c{seq}"),
            "text": "hi", "created_at_ms": at
        }))
        .expect("message")
    }

    #[test]
    fn a_new_message_moves_its_conversation_first_with_the_engine_counts() {
        let mut list = ConversationListState::default();
        list.replace(vec![conv("conv_a", 10), conv("conv_b", 20)], 0);
        let ids = |l: &ConversationListState| -> Vec<String> {
            l.snapshot("me")
                .conversations
                .into_iter()
                .map(|c| c.conversation_id)
                .collect()
        };
        assert_eq!(ids(&list), ["conv_b", "conv_a"]);
        assert!(list.on_message(&message("conv_a", 1, 30), Some(1), Some(4)));
        assert_eq!(ids(&list), ["conv_a", "conv_b"]);
        let snap = list.snapshot("me");
        assert_eq!(
            (snap.total_unread, snap.conversations[0].unread_count),
            (4, 1)
        );
        assert_eq!(
            snap.conversations[0]
                .last_message
                .as_ref()
                .and_then(|m| m.seq),
            Some(1)
        );

        // A late push of an older message does not replace the last one.
        list.on_message(&message("conv_a", 0, 5), None, None);
        assert_eq!(
            list.get("conv_a")
                .and_then(|c| c.last_message.as_ref())
                .map(|m| m.seq),
            Some(1)
        );
        assert!(!list.on_message(&message("conv_new", 1, 40), Some(1), Some(5)));

        list.on_unread("conv_a", 0, 3);
        assert_eq!(list.snapshot("me").total_unread, 3);
        assert!(list.remove("conv_b"));
        assert_eq!(ids(&list), ["conv_a"]);
    }

    #[test]
    fn an_older_conversation_read_does_not_undo_a_newer_push() {
        let mut list = ConversationListState::default();
        list.replace(vec![conv("conv_a", 10)], 0);
        list.on_message(&message("conv_a", 3, 30), Some(3), Some(3));
        let mut renamed = conv("conv_a", 10);
        renamed.title = Some("new".into());
        list.upsert(renamed);
        let c = list.get("conv_a").expect("listed");
        assert_eq!(c.title.as_deref(), Some("new"));
        assert_eq!(c.last_message.as_ref().map(|m| m.seq), Some(3));
        assert_eq!(c.last_activity_ms, 30);
    }
}
