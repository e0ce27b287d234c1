-- Publish permissions on their way to LiveKit (engine/src/grants.rs). A seat
-- or stage change records the permission it wants here, in its own
-- transaction, so the row's generation follows the order in which changes
-- committed, whichever node made them. One node at a time (the lease
-- holder) sends a participant's newest permission and removes the row only
-- if no newer one came meanwhile; a row whose holder died is taken over by
-- any node once the lease has run out.
CREATE TABLE grant_outbox (
    lk_room        TEXT NOT NULL,
    identity       TEXT NOT NULL,
    publish        INTEGER NOT NULL,
    sources        TEXT NOT NULL,
    generation     INTEGER NOT NULL,
    give_up_at_ms  INTEGER NOT NULL,
    lease_owner    TEXT NOT NULL DEFAULT '',
    lease_until_ms INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (lk_room, identity)
);
CREATE INDEX grant_outbox_by_lease ON grant_outbox(lease_until_ms);
