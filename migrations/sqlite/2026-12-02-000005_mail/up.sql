-- An address is verified when its owner opened a link mailed to it. Mail goes out in the
-- language the user last used.
ALTER TABLE users ADD COLUMN email_verified_at BIGINT;
ALTER TABLE users ADD COLUMN lang TEXT NOT NULL DEFAULT 'en';

-- Links mailed to users (address verification, password reset), stored only as SHA-256 of
-- the token: a copy of the database yields no live link. `email` is the address the link
-- was sent to (for a change of address, the new one).
CREATE TABLE email_tokens (
    token_hash  TEXT PRIMARY KEY NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose     TEXT NOT NULL,
    email       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX email_tokens_user ON email_tokens (user_id, purpose);

-- The durable outbox: written in the transaction of the event that causes the mail, drained
-- by every instance's worker (a row is claimed with a lease, so each is sent once). The
-- message itself is encrypted with `data_dir/mail.key` and erased once sent.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    created_at      BIGINT NOT NULL,
    kind            TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    payload         BLOB,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until     BIGINT,
    sent_at         BIGINT,
    failed_at       BIGINT,
    last_error      TEXT
);
CREATE INDEX outbox_due ON outbox (sent_at, failed_at, next_attempt_at);
