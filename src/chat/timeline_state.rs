//! A timeline's state, pure: the engine's messages of a window of `seq`s,
//! merged from history pages, catch-up pages and pushes in any order and
//! any number of times, plus this device's unsent messages.
//!
//! Merging keys messages by `seq` and keeps the version with the highest
//! `mod_seq`, so a late push never undoes an edit and a message seen twice
//! (push and catch-up) is shown once. A local echo carries the key its
//! engine message will have (sender + client message id), and is hidden the
//! moment that message is merged: the row keeps its key and its place.

use std::collections::{BTreeMap, HashSet};

use super::types::{UTDReceipt, UTDSendState, UTDTimelineItem, UTDTimelineSnapshot};
use crate::api::chat::MessageWire;

/// One of this device's messages not on the engine yet.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalEcho {
    /// The engine-to-be row of it.
    pub item: UTDTimelineItem,
}

/// The state behind one conversation's timeline.
#[derive(Debug, Clone)]
pub struct TimelineState {
    me: String,
    messages: BTreeMap<u64, MessageWire>,
    /// The oldest `seq` of the loaded window (None: nothing loaded).
    oldest: Option<u64>,
    hit_start: bool,
    /// Every change up to this counter is merged.
    applied_mod_seq: u64,
    receipts: BTreeMap<String, (u64, u64)>,
}

impl TimelineState {
    /// An empty timeline seen by `me`.
    pub fn new(me: &str) -> Self {
        Self {
            me: me.to_owned(),
            messages: BTreeMap::new(),
            oldest: None,
            hit_start: false,
            applied_mod_seq: 0,
            receipts: BTreeMap::new(),
        }
    }

    /// Changes up to this counter are merged.
    pub fn applied_mod_seq(&self) -> u64 {
        self.applied_mod_seq
    }

    /// The oldest loaded `seq`.
    pub fn oldest_seq(&self) -> Option<u64> {
        self.oldest
    }

    /// The newest loaded `seq`.
    pub fn newest_seq(&self) -> Option<u64> {
        self.messages.keys().next_back().copied()
    }

    /// Whether the start of the conversation is loaded.
    pub fn hit_start(&self) -> bool {
        self.hit_start
    }

    /// How many engine messages are loaded.
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// Whether no engine message is loaded.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// Whether the engine holds a message of `me` with this idempotency key.
    pub fn has_own(&self, client_message_id: &str) -> bool {
        self.messages
            .values()
            .any(|m| m.client_message_id == client_message_id && m.sender_identity == self.me)
    }

    /// The engine message with this row key.
    pub fn by_key(&self, key: &str) -> Option<&MessageWire> {
        self.messages
            .values()
            .find(|m| super::types::item_key(&m.sender_identity, &m.client_message_id) == key)
    }

    /// Merges one message; returns whether anything changed. Messages older
    /// than the loaded window are left to pagination (which reads their
    /// latest form), except while nothing is loaded yet.
    pub fn merge(&mut self, message: MessageWire) -> bool {
        if let Some(oldest) = self.oldest {
            if message.seq < oldest && !self.hit_start {
                return false;
            }
        }
        match self.messages.get(&message.seq) {
            Some(current) if current.mod_seq >= message.mod_seq => false,
            _ => {
                self.oldest = Some(self.oldest.map_or(message.seq, |o| o.min(message.seq)));
                self.messages.insert(message.seq, message);
                true
            }
        }
    }

    /// Merges a pushed message and advances the applied counter when the
    /// push is the very next change (pushes come in commit order; a gap
    /// means some were missed, and catch-up fills it).
    pub fn merge_push(&mut self, message: MessageWire) -> bool {
        if message.mod_seq == self.applied_mod_seq + 1 {
            self.applied_mod_seq = message.mod_seq;
        }
        self.merge(message)
    }

    /// Merges a history page reaching back from the window.
    pub fn merge_older_page(&mut self, messages: Vec<MessageWire>, has_more_before: bool) {
        let lowest = messages.iter().map(|m| m.seq).min();
        for message in messages {
            // Older than the window by design: widen it first.
            if self.oldest.is_none_or(|o| message.seq < o) {
                self.oldest = Some(message.seq);
            }
            self.merge(message);
        }
        if let (Some(low), Some(oldest)) = (lowest, self.oldest) {
            self.oldest = Some(low.min(oldest));
        }
        if !has_more_before {
            self.hit_start = true;
        }
    }

    /// Replaces everything with the latest page (first load, or `reset`),
    /// read when the conversation's counter was `mod_seq`.
    pub fn reset_to_latest(
        &mut self,
        messages: Vec<MessageWire>,
        has_more_before: bool,
        mod_seq: u64,
    ) {
        let keep_newer: Vec<MessageWire> = self.messages.values().cloned().collect();
        self.messages.clear();
        self.oldest = None;
        self.hit_start = !has_more_before;
        for message in messages {
            self.merge(message);
        }
        if self.oldest.is_none() && self.hit_start {
            self.oldest = Some(1);
        }
        // Pushes merged while the page was read are newer than it.
        for message in keep_newer {
            if self.newest_seq().is_none_or(|n| message.seq > n) {
                self.merge(message);
            }
        }
        self.applied_mod_seq = self.applied_mod_seq.max(mod_seq);
    }

    /// Merges a catch-up page and moves the applied counter to it.
    pub fn merge_changes(&mut self, messages: Vec<MessageWire>, mod_seq: u64) {
        for message in messages {
            self.merge(message);
        }
        self.applied_mod_seq = self.applied_mod_seq.max(mod_seq);
    }

    /// A member's positions moved (they only move forward).
    pub fn set_receipt(&mut self, identity: &str, read: u64, delivered: u64) -> bool {
        let entry = self.receipts.entry(identity.to_owned()).or_insert((0, 0));
        let next = (entry.0.max(read), entry.1.max(delivered).max(read));
        let changed = next != *entry;
        *entry = next;
        changed
    }

    /// The rows to show: engine messages by `seq`, then the local echoes
    /// whose message is not merged yet, in queue order.
    pub fn snapshot(&self, echoes: &[LocalEcho]) -> UTDTimelineSnapshot {
        let mut items: Vec<UTDTimelineItem> = self
            .messages
            .values()
            .map(|m| UTDTimelineItem::from_wire(m, &self.me))
            .collect();
        if !echoes.is_empty() {
            // One pass over the messages, not one per echo: a long queue
            // behind a long timeline is republished on every send.
            let own: HashSet<&str> = self
                .messages
                .values()
                .filter(|m| m.sender_identity == self.me)
                .map(|m| m.client_message_id.as_str())
                .collect();
            items.extend(
                echoes
                    .iter()
                    .filter(|e| !own.contains(e.item.client_message_id.as_str()))
                    .map(|e| e.item.clone()),
            );
        }
        let receipts = self
            .receipts
            .iter()
            .filter(|(identity, _)| **identity != self.me)
            .map(|(identity, (read, delivered))| UTDReceipt {
                identity: identity.clone(),
                last_read_seq: *read,
                last_delivered_seq: *delivered,
            })
            .collect();
        UTDTimelineSnapshot {
            items,
            hit_start: self.hit_start,
            receipts,
        }
    }
}

/// A local echo of a queued message.
pub fn echo(
    me: &str,
    client_message_id: &str,
    text: &str,
    created_at_ms: u64,
    attachments: Vec<super::types::UTDChatAttachment>,
    state: UTDSendState,
) -> LocalEcho {
    LocalEcho {
        item: UTDTimelineItem {
            key: super::types::item_key(me, client_message_id),
            message_id: None,
            seq: None,
            sender_identity: me.to_owned(),
            client_message_id: client_message_id.to_owned(),
            text: text.to_owned(),
            attachments,
            created_at_ms,
            edited_at_ms: None,
            deleted: false,
            is_own: true,
            send_state: state,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(seq: u64, mod_seq: u64, sender: &str, cmid: &str, text: &str) -> MessageWire {
        MessageWire {
            message_id: format!("msg_{seq}"),
            conversation_id: "conv_1".into(),
            seq,
            mod_seq,
            sender_identity: sender.into(),
            client_message_id: cmid.into(),
            text: text.into(),
            attachments: vec![],
            created_at_ms: seq,
            edited_at_ms: None,
            deleted: false,
        }
    }

    fn keys(s: &UTDTimelineSnapshot) -> Vec<String> {
        s.items.iter().map(|i| i.key.clone()).collect()
    }

    #[test]
    fn the_engine_message_takes_the_echo_row_in_place() {
        let mut t = TimelineState::new("me");
        t.reset_to_latest(vec![msg(1, 1, "bob", "b1", "hi")], false, 1);
        let echoes = vec![echo("me", "c1", "hello", 5, vec![], UTDSendState::Queued)];
        let before = t.snapshot(&echoes);
        assert_eq!(keys(&before), ["bob/b1", "me/c1"]);
        assert_eq!(before.items[1].send_state, UTDSendState::Queued);

        // The push of our own message arrives while the echo is still queued.
        assert!(t.merge_push(msg(2, 2, "me", "c1", "hello")));
        let after = t.snapshot(&echoes);
        assert_eq!(keys(&after), keys(&before), "same rows, same places");
        assert_eq!(after.items[1].send_state, UTDSendState::Sent);
        assert_eq!(after.items[1].seq, Some(2));
        // The queue then drops the echo: nothing moves.
        assert_eq!(keys(&t.snapshot(&[])), keys(&before));
    }

    #[test]
    fn duplicates_and_stale_versions_are_merged_once() {
        let mut t = TimelineState::new("me");
        t.reset_to_latest(vec![msg(1, 1, "bob", "b1", "v1")], true, 1);
        assert!(t.merge_push(msg(2, 2, "bob", "b2", "x")));
        assert!(
            !t.merge_push(msg(2, 2, "bob", "b2", "x")),
            "the same push twice"
        );
        let mut edited = msg(1, 3, "bob", "b1", "v2");
        edited.edited_at_ms = Some(9);
        assert!(t.merge(edited));
        assert!(
            !t.merge(msg(1, 1, "bob", "b1", "v1")),
            "an older version loses"
        );
        assert_eq!(
            t.applied_mod_seq(),
            2,
            "the edit came outside the push order"
        );
        let s = t.snapshot(&[]);
        assert_eq!(s.items.len(), 2);
        assert_eq!(s.items[0].text, "v2");
        assert!(!s.hit_start);
    }

    #[test]
    fn pushes_advance_the_counter_only_without_gaps() {
        let mut t = TimelineState::new("me");
        t.reset_to_latest(vec![], false, 0);
        assert!(t.hit_start());
        t.merge_push(msg(1, 1, "bob", "b1", "a"));
        t.merge_push(msg(3, 3, "bob", "b3", "c"));
        assert_eq!(t.applied_mod_seq(), 1, "mod 2 was missed");
        t.merge_changes(
            vec![msg(2, 2, "bob", "b2", "b"), msg(3, 3, "bob", "b3", "c")],
            3,
        );
        assert_eq!(t.applied_mod_seq(), 3);
        let seqs: Vec<_> = t.snapshot(&[]).items.iter().filter_map(|i| i.seq).collect();
        assert_eq!(seqs, [1, 2, 3]);
    }

    #[test]
    fn pagination_widens_the_window_and_old_edits_wait_for_it() {
        let mut t = TimelineState::new("me");
        t.reset_to_latest(
            vec![msg(5, 5, "bob", "b5", "e"), msg(6, 6, "bob", "b6", "f")],
            true,
            6,
        );
        assert!(
            !t.merge(msg(2, 7, "bob", "b2", "edited")),
            "outside the window"
        );
        t.merge_older_page(
            vec![msg(3, 3, "bob", "b3", "c"), msg(4, 4, "bob", "b4", "d")],
            true,
        );
        assert_eq!(t.oldest_seq(), Some(3));
        assert!(!t.hit_start());
        t.merge_older_page(
            vec![
                msg(1, 1, "bob", "b1", "a"),
                msg(2, 7, "bob", "b2", "edited"),
            ],
            false,
        );
        assert!(t.hit_start());
        let s = t.snapshot(&[]);
        assert_eq!(s.items.len(), 6);
        assert_eq!(s.items[1].text, "edited");
    }

    #[test]
    fn a_reset_keeps_pushes_newer_than_the_page_and_receipts_move_forward() {
        let mut t = TimelineState::new("me");
        t.merge_push(msg(9, 9, "bob", "b9", "pushed during load"));
        t.reset_to_latest(
            vec![msg(7, 7, "bob", "b7", "x"), msg(8, 8, "bob", "b8", "y")],
            true,
            8,
        );
        let seqs: Vec<_> = t.snapshot(&[]).items.iter().filter_map(|i| i.seq).collect();
        assert_eq!(seqs, [7, 8, 9]);
        assert!(t.set_receipt("bob", 8, 8));
        assert!(!t.set_receipt("bob", 3, 3), "positions never move back");
        t.set_receipt("me", 9, 9);
        let s = t.snapshot(&[]);
        assert_eq!(s.receipts.len(), 1, "only other members");
        assert_eq!(s.receipts[0].last_read_seq, 8);
    }
}
