-- PostgreSQL version of sqlite/0004_calls.sql: 1:1 calls (engine-api.md §5).
-- A call's media room is the rooms row named call_id with stream type
-- audio_call / video_call. The ring deadline is not stored (created_at_ms +
-- the ring timeout); every node's ring sweeper finds the due ones here.
CREATE TABLE calls (
    call_id            TEXT COLLATE "C" PRIMARY KEY,
    app_id             TEXT COLLATE "C" NOT NULL REFERENCES apps(app_id),
    call_type          TEXT COLLATE "C" NOT NULL,
    status             TEXT COLLATE "C" NOT NULL,
    caller_identity    TEXT COLLATE "C" NOT NULL,
    caller_name        TEXT COLLATE "C",
    callee_identity    TEXT COLLATE "C" NOT NULL,
    callee_name        TEXT COLLATE "C",
    metadata           TEXT COLLATE "C" NOT NULL,
    created_at_ms      BIGINT NOT NULL,
    updated_at_ms      BIGINT NOT NULL,
    -- Set when accepted; answered_by_device may stay NULL (no device id).
    answered_at_ms     BIGINT,
    answered_by_device TEXT COLLATE "C",
    end_reason         TEXT COLLATE "C"
);
-- Calls still ringing (scheduled for the ring timeout on start).
CREATE INDEX calls_pending ON calls(status) WHERE status IN ('initiating', 'ringing');
