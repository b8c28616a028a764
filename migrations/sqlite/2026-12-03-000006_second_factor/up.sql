-- A second factor (TOTP, RFC 6238). The secret is sealed with `data_dir/totp.key`, so a copy
-- of the database alone does not yield it. `totp_last_step`: the last time step a code was
-- accepted for, so a code works once, on every instance.
ALTER TABLE users ADD COLUMN totp_secret BLOB;
ALTER TABLE users ADD COLUMN totp_enabled_at BIGINT;
ALTER TABLE users ADD COLUMN totp_last_step BIGINT;

-- Recovery codes, stored as SHA-256 of the user id and the code (80 random bits each).
CREATE TABLE recovery_codes (
    code_hash   TEXT PRIMARY KEY NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX recovery_codes_user ON recovery_codes (user_id);

-- Sign-ins waiting for their second step: the cookie holds the id, the database its SHA-256.
-- Bound to the password hash the first step matched (and its rehash at today's cost, if
-- it needs one); used once; expires.
CREATE TABLE pending_signins (
    id_hash        TEXT PRIMARY KEY NOT NULL,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    password_hash  TEXT NOT NULL,
    upgrade        TEXT,
    remember       BOOLEAN NOT NULL,
    next           TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT
);
CREATE INDEX pending_signins_expiry ON pending_signins (expires_at);

-- How the session's user signed in (RFC 8176 `amr` values, comma-separated).
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
