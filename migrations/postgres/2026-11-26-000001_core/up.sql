-- Timestamps are Unix seconds (BIGINT) on both backends, so one Diesel schema serves both.
CREATE TABLE users (
    id             TEXT PRIMARY KEY NOT NULL,          -- opaque, random; the JWT `sub`
    username       TEXT NOT NULL,                      -- as shown (NFKC)
    username_key   TEXT NOT NULL,                      -- NFKC + lowercase: uniqueness
    email          TEXT NOT NULL,
    email_key      TEXT NOT NULL,                      -- lowercase: uniqueness
    password_hash  TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    disabled_at    BIGINT,
    last_login_at  BIGINT,
    last_login_ip  TEXT
);
CREATE UNIQUE INDEX users_username_key ON users (username_key);
CREATE UNIQUE INDEX users_email_key ON users (email_key);

CREATE TABLE sessions (
    id                  TEXT PRIMARY KEY NOT NULL,     -- the JWT `sid`, 128 random bits
    user_id             TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at          BIGINT NOT NULL,
    last_seen_at        BIGINT NOT NULL,
    idle_expires_at     BIGINT NOT NULL,
    absolute_expires_at BIGINT NOT NULL,
    remember            BOOLEAN NOT NULL,
    user_agent          TEXT NOT NULL,
    client_ip           TEXT NOT NULL,
    revoked_at          BIGINT,
    revoked_reason      TEXT
);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_absolute_expires_at ON sessions (absolute_expires_at);
CREATE INDEX sessions_idle_expires_at ON sessions (idle_expires_at);

-- LG-8: who did what, when, from where. Never a password, token or CSRF value.
CREATE TABLE audit_events (
    id BIGSERIAL PRIMARY KEY,
    created_at  BIGINT NOT NULL,
    event       TEXT NOT NULL,
    user_id     TEXT,                                  -- no FK: the trail outlives the account
    username    TEXT,
    reason      TEXT NOT NULL,
    client_ip   TEXT NOT NULL,
    session_id  TEXT
);
CREATE INDEX audit_events_user_id ON audit_events (user_id, created_at);
CREATE INDEX audit_events_created_at ON audit_events (created_at);
