-- A sign-in refused during a ban is cheap to send, so a banned client's flood is kept as one
-- row per ban: `count` refusals from `created_at` to `last_at` (NULL: a single event).
ALTER TABLE audit_events ADD COLUMN count BIGINT NOT NULL DEFAULT 1;
ALTER TABLE audit_events ADD COLUMN last_at BIGINT;

-- One row that `/healthz` rewrites (at most every few seconds per instance) to prove that
-- the database still takes writes: a full disk or a read-only database fails it.
CREATE TABLE health_probe (
    id          TEXT PRIMARY KEY NOT NULL,
    checked_at  BIGINT NOT NULL
);
INSERT INTO health_probe (id, checked_at) VALUES ('probe', 0);
