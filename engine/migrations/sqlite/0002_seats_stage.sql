-- Audio room seat layout (one row per room that was set up by its host).
CREATE TABLE seat_layouts (
    app_id     TEXT NOT NULL,
    room_name  TEXT NOT NULL,
    seat_count INTEGER NOT NULL,
    seat_mode  TEXT NOT NULL,
    PRIMARY KEY (app_id, room_name)
);

-- Occupied seats. The primary key makes a seat hold one identity and the
-- unique index keeps an identity on one seat per room.
CREATE TABLE seats (
    app_id     TEXT NOT NULL,
    room_name  TEXT NOT NULL,
    seat_index INTEGER NOT NULL,
    identity   TEXT NOT NULL,
    name       TEXT,
    muted      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (app_id, room_name, seat_index)
);
CREATE UNIQUE INDEX seats_by_identity ON seats(app_id, room_name, identity);

-- Pending seat requests (request mode).
CREATE TABLE seat_requests (
    request_id    INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id        TEXT NOT NULL,
    room_name     TEXT NOT NULL,
    identity      TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL
);
CREATE UNIQUE INDEX seat_requests_by_identity ON seat_requests(app_id, room_name, identity);

-- Live stream stage: co-hosts invited by the host (the host is implicit).
CREATE TABLE stage_members (
    app_id        TEXT NOT NULL,
    room_name     TEXT NOT NULL,
    identity      TEXT NOT NULL,
    name          TEXT,
    created_at_ms INTEGER NOT NULL,
    PRIMARY KEY (app_id, room_name, identity)
);

-- Viewers asking to go on stage.
CREATE TABLE stage_requests (
    app_id        TEXT NOT NULL,
    room_name     TEXT NOT NULL,
    identity      TEXT NOT NULL,
    name          TEXT,
    created_at_ms INTEGER NOT NULL,
    PRIMARY KEY (app_id, room_name, identity)
);
