-- PostgreSQL version of sqlite/0003_state_versions.sql: per-room version
-- counters of the seats and stage states (engine-api.md §6, §7), bumped in
-- the transaction of every change so clients can order REST replies and
-- signal pushes. Rows are never deleted, so versions never go back.
CREATE TABLE room_state_versions (
    app_id        TEXT COLLATE "C" NOT NULL,
    room_name     TEXT COLLATE "C" NOT NULL,
    seats_version BIGINT NOT NULL DEFAULT 0,
    stage_version BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (app_id, room_name)
);
