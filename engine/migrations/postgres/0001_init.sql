-- PostgreSQL version of sqlite/0001_init.sql: apps, user sessions, bans,
-- media rooms, push tokens and presence. The app key is stored as is, the
-- server secret and session bearers only as SHA-256 digests.
-- Every text column collates "C" (byte order), as SQLite compares text, so
-- pages and tie-breaks sort the same in both stores.
CREATE TABLE apps (
    app_id               TEXT COLLATE "C" PRIMARY KEY,
    name                 TEXT COLLATE "C" NOT NULL,
    app_key              TEXT COLLATE "C" NOT NULL,
    server_secret_sha256 TEXT COLLATE "C" NOT NULL,
    plan                 TEXT COLLATE "C" NOT NULL,
    report_capabilities  BIGINT NOT NULL DEFAULT 1,
    signaling_override   BIGINT,
    messaging_override   BIGINT,
    limits_override      TEXT COLLATE "C",
    per_user_per_minute  BIGINT NOT NULL,
    per_app_per_minute   BIGINT NOT NULL,
    created_at_ms        BIGINT NOT NULL
);

-- User sessions: only the SHA-256 of the bearer is kept.
CREATE TABLE sessions (
    token_sha256   BYTEA PRIMARY KEY,
    app_id         TEXT COLLATE "C" NOT NULL REFERENCES apps(app_id),
    identity       TEXT COLLATE "C" NOT NULL,
    name           TEXT COLLATE "C",
    device_id      TEXT COLLATE "C",
    created_at_ms  BIGINT NOT NULL,
    expires_at_ms  BIGINT NOT NULL,
    revoked_at_ms  BIGINT,
    revoked_reason TEXT COLLATE "C"
);
CREATE INDEX sessions_by_user ON sessions(app_id, identity);

CREATE TABLE bans (
    app_id        TEXT COLLATE "C" NOT NULL REFERENCES apps(app_id),
    identity      TEXT COLLATE "C" NOT NULL,
    reason        TEXT COLLATE "C",
    created_at_ms BIGINT NOT NULL,
    PRIMARY KEY (app_id, identity)
);

-- Media rooms known to the engine (un-prefixed names) and their owner.
CREATE TABLE rooms (
    app_id         TEXT COLLATE "C" NOT NULL REFERENCES apps(app_id),
    room_name      TEXT COLLATE "C" NOT NULL,
    stream_type    TEXT COLLATE "C" NOT NULL,
    owner_identity TEXT COLLATE "C",
    created_at_ms  BIGINT NOT NULL,
    PRIMARY KEY (app_id, room_name)
);

CREATE TABLE push_tokens (
    app_id        TEXT COLLATE "C" NOT NULL REFERENCES apps(app_id),
    token         TEXT COLLATE "C" NOT NULL,
    identity      TEXT COLLATE "C" NOT NULL,
    platform      TEXT COLLATE "C" NOT NULL,
    device_id     TEXT COLLATE "C",
    updated_at_ms BIGINT NOT NULL,
    PRIMARY KEY (app_id, token)
);
CREATE INDEX push_tokens_by_user ON push_tokens(app_id, identity);

-- Last time a user's last signal connection closed (presence "last seen").
CREATE TABLE presence (
    app_id       TEXT COLLATE "C" NOT NULL,
    identity     TEXT COLLATE "C" NOT NULL,
    last_seen_ms BIGINT NOT NULL,
    PRIMARY KEY (app_id, identity)
);
