-- Push dispatch (engine-api.md §4): a durable outbox of provider requests.
-- A row is written in the transaction that creates the call (kind 'call') or
-- with the transition that ends its ringing (kind 'call_ended'), and deleted
-- once delivered, refused for good, or past expires_at_ms (the ring deadline
-- of a call push). A dispatcher claims a due row by a conditional UPDATE of
-- its lease (lease_owner / lease_until_ms), so several engines may share the
-- table; an attempt's lease outlives its request timeout, and an attempt that
-- fails releases the lease and sets next_attempt_at_ms (backoff).
CREATE TABLE push_outbox (
    push_id            INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id             TEXT NOT NULL,
    call_id            TEXT NOT NULL,
    kind               TEXT NOT NULL,           -- 'call' | 'call_ended'
    platform           TEXT NOT NULL,           -- 'apns_voip' | 'fcm'
    token              TEXT NOT NULL,
    device_id          TEXT,
    reason             TEXT,                    -- call_ended: why the ringing ended
    created_at_ms      INTEGER NOT NULL,
    expires_at_ms      INTEGER NOT NULL,
    attempts           INTEGER NOT NULL DEFAULT 0,
    next_attempt_at_ms INTEGER NOT NULL,
    lease_owner        TEXT,
    lease_until_ms     INTEGER,
    last_error         TEXT,
    UNIQUE (call_id, kind, token)
);
CREATE INDEX push_outbox_due ON push_outbox(next_attempt_at_ms);
CREATE INDEX push_outbox_by_token ON push_outbox(app_id, token);

-- Call pushes a provider accepted for a device (FCM), so the end of the
-- ringing can be sent to exactly those devices; consumed when it is queued.
CREATE TABLE push_deliveries (
    call_id         TEXT NOT NULL,
    token           TEXT NOT NULL,
    app_id          TEXT NOT NULL,
    platform        TEXT NOT NULL,
    device_id       TEXT,
    delivered_at_ms INTEGER NOT NULL,
    PRIMARY KEY (call_id, token)
);
CREATE INDEX push_deliveries_by_token ON push_deliveries(app_id, token);
