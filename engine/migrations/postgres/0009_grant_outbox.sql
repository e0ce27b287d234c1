-- PostgreSQL version of sqlite/0009_grant_outbox.sql: publish permissions
-- on their way to LiveKit, in commit order, sent by one lease holder.

CREATE TABLE grant_outbox (
    lk_room        TEXT COLLATE "C" NOT NULL,
    identity       TEXT COLLATE "C" NOT NULL,
    publish        BIGINT NOT NULL,
    sources        TEXT COLLATE "C" NOT NULL,
    generation     BIGINT NOT NULL,
    give_up_at_ms  BIGINT NOT NULL,
    lease_owner    TEXT COLLATE "C" NOT NULL DEFAULT '',
    lease_until_ms BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (lk_room, identity)
);
CREATE INDEX grant_outbox_by_lease ON grant_outbox(lease_until_ms);
