-- Chat (docs/chat-api.md): conversations, members, messages, contacts, blocks.
--
-- Every counter of a conversation (last_seq, mod_seq) is bumped in the
-- transaction that writes the message, so numbers are never reused and the
-- UNIQUE constraints below hold them to it. The engine writes through one
-- connection behind a mutex; the constraints are the second line.

CREATE TABLE chat_conversations (
    conversation_id  TEXT PRIMARY KEY,
    app_id           TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('direct', 'group')),
    title            TEXT,
    -- A direct conversation's two identities, ordered (direct_low < direct_high);
    -- both NULL for a group. The UNIQUE constraint is what makes a direct
    -- conversation one per pair, however many opens race.
    direct_low       TEXT,
    direct_high      TEXT,
    created_by       TEXT NOT NULL,
    created_at_ms    INTEGER NOT NULL,
    -- Highest seq assigned (0: no message yet).
    last_seq         INTEGER NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
    -- The modification counter: bumped by every send, edit and delete.
    mod_seq          INTEGER NOT NULL DEFAULT 0 CHECK (mod_seq >= last_seq),
    -- Newest message's time, else created_at_ms: the conversation list's order.
    last_activity_ms INTEGER NOT NULL,
    CHECK (CASE kind
        WHEN 'direct' THEN direct_low IS NOT NULL AND direct_high IS NOT NULL
                           AND direct_low < direct_high AND title IS NULL
        ELSE direct_low IS NULL AND direct_high IS NULL END),
    UNIQUE (app_id, direct_low, direct_high)
);

CREATE TABLE chat_members (
    conversation_id    TEXT NOT NULL REFERENCES chat_conversations(conversation_id),
    app_id             TEXT NOT NULL,
    identity           TEXT NOT NULL,
    role               TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    joined_at_ms       INTEGER NOT NULL,
    -- Receipt positions: only move forward; read implies delivered.
    last_read_seq      INTEGER NOT NULL DEFAULT 0 CHECK (last_read_seq >= 0),
    last_delivered_seq INTEGER NOT NULL DEFAULT 0 CHECK (last_delivered_seq >= last_read_seq),
    PRIMARY KEY (conversation_id, identity)
) WITHOUT ROWID;
-- A user's conversations (the list, total unread, max_chatrooms).
CREATE INDEX chat_members_by_user ON chat_members(app_id, identity);

CREATE TABLE chat_messages (
    message_id        TEXT PRIMARY KEY,
    conversation_id   TEXT NOT NULL REFERENCES chat_conversations(conversation_id),
    seq               INTEGER NOT NULL CHECK (seq >= 1),
    mod_seq           INTEGER NOT NULL CHECK (mod_seq >= seq),
    sender_identity   TEXT NOT NULL,
    client_message_id TEXT NOT NULL,
    text              TEXT NOT NULL,
    -- JSON array of Attachment objects (a snapshot of the ready uploads; the
    -- uploads rows point back through uploads.message_id). '[]' once deleted.
    attachments       TEXT NOT NULL DEFAULT '[]',
    -- Server clock, never decreasing along seq within a conversation.
    created_at_ms     INTEGER NOT NULL,
    edited_at_ms      INTEGER,
    deleted           INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
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
    app_id           TEXT NOT NULL,
    owner_identity   TEXT NOT NULL,
    contact_identity TEXT NOT NULL,
    added_at_ms      INTEGER NOT NULL,
    PRIMARY KEY (app_id, owner_identity, contact_identity)
) WITHOUT ROWID;

CREATE TABLE chat_blocks (
    app_id           TEXT NOT NULL,
    blocker_identity TEXT NOT NULL,
    blocked_identity TEXT NOT NULL,
    blocked_at_ms    INTEGER NOT NULL,
    PRIMARY KEY (app_id, blocker_identity, blocked_identity)
) WITHOUT ROWID;

-- Message notifications to offline members go through the push outbox
-- (kind 'chat_message', call_id = the message id): the member it is for, so
-- the dispatcher can drop a notification whose message was read meanwhile.
ALTER TABLE push_outbox ADD COLUMN recipient_identity TEXT;
