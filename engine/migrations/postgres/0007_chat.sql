-- PostgreSQL version of sqlite/0007_chat.sql: chat (docs/chat-api.md) —
-- conversations, members, messages, contacts, blocks — plus the recipient
-- of a chat message notification in the push outbox.
--
-- A conversation's counters (last_seq, mod_seq) are bumped in the
-- transaction that writes the message, so numbers are never reused; the
-- UNIQUE and CHECK constraints below enforce it.

CREATE TABLE chat_conversations (
    conversation_id  TEXT COLLATE "C" PRIMARY KEY,
    app_id           TEXT COLLATE "C" NOT NULL,
    kind             TEXT COLLATE "C" NOT NULL CHECK (kind IN ('direct', 'group')),
    title            TEXT COLLATE "C",
    -- A direct conversation's two identities, ordered (direct_low < direct_high);
    -- both NULL for a group. The UNIQUE constraint makes a direct
    -- conversation one per pair, however many opens race.
    direct_low       TEXT COLLATE "C",
    direct_high      TEXT COLLATE "C",
    created_by       TEXT COLLATE "C" NOT NULL,
    created_at_ms    BIGINT NOT NULL,
    -- Highest seq assigned (0: no message yet).
    last_seq         BIGINT NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
    -- The modification counter: bumped by every send, edit and delete.
    mod_seq          BIGINT NOT NULL DEFAULT 0 CHECK (mod_seq >= last_seq),
    -- Newest message's time, else created_at_ms: the conversation list's order.
    last_activity_ms BIGINT NOT NULL,
    -- COLLATE "C": byte order, as SQLite's BINARY collation (and Rust's str
    -- ordering) compare, whatever the database's default collation.
    CHECK (CASE kind
        WHEN 'direct' THEN direct_low IS NOT NULL AND direct_high IS NOT NULL
                           AND direct_low COLLATE "C" < direct_high COLLATE "C"
                           AND title IS NULL
        ELSE direct_low IS NULL AND direct_high IS NULL END),
    UNIQUE (app_id, direct_low, direct_high)
);

CREATE TABLE chat_members (
    conversation_id    TEXT COLLATE "C" NOT NULL REFERENCES chat_conversations(conversation_id),
    app_id             TEXT COLLATE "C" NOT NULL,
    identity           TEXT COLLATE "C" NOT NULL,
    role               TEXT COLLATE "C" NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    joined_at_ms       BIGINT NOT NULL,
    -- Receipt positions: only move forward; read implies delivered.
    last_read_seq      BIGINT NOT NULL DEFAULT 0 CHECK (last_read_seq >= 0),
    last_delivered_seq BIGINT NOT NULL DEFAULT 0 CHECK (last_delivered_seq >= last_read_seq),
    PRIMARY KEY (conversation_id, identity)
);
-- A user's conversations (the list, total unread, max_chatrooms).
CREATE INDEX chat_members_by_user ON chat_members(app_id, identity);

CREATE TABLE chat_messages (
    message_id        TEXT COLLATE "C" PRIMARY KEY,
    conversation_id   TEXT COLLATE "C" NOT NULL REFERENCES chat_conversations(conversation_id),
    seq               BIGINT NOT NULL CHECK (seq >= 1),
    mod_seq           BIGINT NOT NULL CHECK (mod_seq >= seq),
    sender_identity   TEXT COLLATE "C" NOT NULL,
    client_message_id TEXT COLLATE "C" NOT NULL,
    text              TEXT COLLATE "C" NOT NULL,
    -- JSON array of Attachment objects (a snapshot of the ready uploads; the
    -- uploads rows point back through uploads.message_id). '[]' once deleted.
    attachments       TEXT COLLATE "C" NOT NULL DEFAULT '[]',
    -- Server clock, never decreasing along seq within a conversation.
    created_at_ms     BIGINT NOT NULL,
    edited_at_ms      BIGINT,
    deleted           BIGINT NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    -- History pages: range queries on seq.
    UNIQUE (conversation_id, seq),
    -- Catch-up (changes?since=N): range queries on mod_seq.
    UNIQUE (conversation_id, mod_seq),
    -- A retried send finds its original.
    UNIQUE (conversation_id, sender_identity, client_message_id)
);
-- Unread counts (seq > last_read_seq, not deleted, not the reader's own,
-- within retention) answered from the index alone.
CREATE INDEX chat_messages_unread
    ON chat_messages(conversation_id, seq, deleted, created_at_ms, sender_identity);
-- The retention purge: what fell out of retention, oldest first.
CREATE INDEX chat_messages_by_time ON chat_messages(created_at_ms);

CREATE TABLE chat_contacts (
    app_id           TEXT COLLATE "C" NOT NULL,
    owner_identity   TEXT COLLATE "C" NOT NULL,
    contact_identity TEXT COLLATE "C" NOT NULL,
    added_at_ms      BIGINT NOT NULL,
    PRIMARY KEY (app_id, owner_identity, contact_identity)
);

CREATE TABLE chat_blocks (
    app_id           TEXT COLLATE "C" NOT NULL,
    blocker_identity TEXT COLLATE "C" NOT NULL,
    blocked_identity TEXT COLLATE "C" NOT NULL,
    blocked_at_ms    BIGINT NOT NULL,
    PRIMARY KEY (app_id, blocker_identity, blocked_identity)
);

-- Message notifications to offline members go through the push outbox
-- (kind 'chat_message', call_id = the message id): the member it is for, so
-- the dispatcher can drop a notification whose message was read meanwhile.
ALTER TABLE push_outbox ADD COLUMN recipient_identity TEXT COLLATE "C";
