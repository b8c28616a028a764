-- Failed attempts and rate-limited actions, counted per key within a window. In the database
-- so that every instance counts the same attempts.
CREATE TABLE throttle_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    kind        TEXT NOT NULL,     -- login_account | login_ip | login_device | register_ip | ...
    key         TEXT NOT NULL,     -- a user id, a client address, a device id
    created_at  BIGINT NOT NULL
);
CREATE INDEX throttle_events_lookup ON throttle_events (kind, key, created_at);
CREATE INDEX throttle_events_created_at ON throttle_events (created_at);

-- Active bans; they lift by themselves at `until`.
CREATE TABLE bans (
    kind        TEXT NOT NULL,     -- account | ip | device
    key         TEXT NOT NULL,
    until       BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    reason      TEXT NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE INDEX bans_until ON bans (until);

-- The sign-in before the latest one: "last signed in ... from ..." on the dashboard.
ALTER TABLE users ADD COLUMN previous_login_at BIGINT;
ALTER TABLE users ADD COLUMN previous_login_ip TEXT;
