-- Apps: the publishable app key is stored as is (it ships inside apps);
-- the server secret only as a SHA-256 hex digest.
CREATE TABLE apps (
    app_id               TEXT PRIMARY KEY,
    name                 TEXT NOT NULL,
    app_key              TEXT NOT NULL,
    server_secret_sha256 TEXT NOT NULL,
    plan                 TEXT NOT NULL,
    report_capabilities  INTEGER NOT NULL DEFAULT 1,
    signaling_override   INTEGER,
    messaging_override   INTEGER,
    limits_override      TEXT,
    per_user_per_minute  INTEGER NOT NULL,
    per_app_per_minute   INTEGER NOT NULL,
    created_at_ms        INTEGER NOT NULL
);

-- User sessions: only the SHA-256 of the bearer is kept.
CREATE TABLE sessions (
    token_sha256   BLOB PRIMARY KEY,
    app_id         TEXT NOT NULL REFERENCES apps(app_id),
    identity       TEXT NOT NULL,
    name           TEXT,
    device_id      TEXT,
    created_at_ms  INTEGER NOT NULL,
    expires_at_ms  INTEGER NOT NULL,
    revoked_at_ms  INTEGER,
    revoked_reason TEXT
);
CREATE INDEX sessions_by_user ON sessions(app_id, identity);

CREATE TABLE bans (
    app_id        TEXT NOT NULL REFERENCES apps(app_id),
    identity      TEXT NOT NULL,
    reason        TEXT,
    created_at_ms INTEGER NOT NULL,
    PRIMARY KEY (app_id, identity)
);

-- Media rooms known to the engine (un-prefixed names) and their owner.
CREATE TABLE rooms (
    app_id         TEXT NOT NULL REFERENCES apps(app_id),
    room_name      TEXT NOT NULL,
    stream_type    TEXT NOT NULL,
    owner_identity TEXT,
    created_at_ms  INTEGER NOT NULL,
    PRIMARY KEY (app_id, room_name)
);

CREATE TABLE push_tokens (
    app_id        TEXT NOT NULL REFERENCES apps(app_id),
    token         TEXT NOT NULL,
    identity      TEXT NOT NULL,
    platform      TEXT NOT NULL,
    device_id     TEXT,
    updated_at_ms INTEGER NOT NULL,
    PRIMARY KEY (app_id, token)
);
CREATE INDEX push_tokens_by_user ON push_tokens(app_id, identity);

-- Last time a user's last signal connection closed (presence "last seen").
CREATE TABLE presence (
    app_id       TEXT NOT NULL,
    identity     TEXT NOT NULL,
    last_seen_ms INTEGER NOT NULL,
    PRIMARY KEY (app_id, identity)
);
