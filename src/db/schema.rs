//! The Diesel schema, written by hand to match both migration folders
//! (`migrations/sqlite`, `migrations/postgres`): only types both backends share.

diesel::table! {
    users (id) {
        id -> Text,
        username -> Text,
        username_key -> Text,
        email -> Text,
        email_key -> Text,
        password_hash -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
        disabled_at -> Nullable<BigInt>,
        last_login_at -> Nullable<BigInt>,
        last_login_ip -> Nullable<Text>,
        previous_login_at -> Nullable<BigInt>,
        previous_login_ip -> Nullable<Text>,
        email_verified_at -> Nullable<BigInt>,
        lang -> Text,
        totp_secret -> Nullable<Binary>,
        totp_enabled_at -> Nullable<BigInt>,
        totp_last_step -> Nullable<BigInt>,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> Text,
        created_at -> BigInt,
        last_seen_at -> BigInt,
        idle_expires_at -> BigInt,
        absolute_expires_at -> BigInt,
        remember -> Bool,
        user_agent -> Text,
        client_ip -> Text,
        revoked_at -> Nullable<BigInt>,
        revoked_reason -> Nullable<Text>,
        amr -> Text,
    }
}

diesel::joinable!(sessions -> users (user_id));

diesel::table! {
    audit_events (id) {
        id -> BigInt,
        created_at -> BigInt,
        event -> Text,
        user_id -> Nullable<Text>,
        username -> Nullable<Text>,
        reason -> Text,
        client_ip -> Text,
        session_id -> Nullable<Text>,
        /// Refusals this row stands for (1 for every other event).
        count -> BigInt,
        /// The latest of them; `None` for a single event.
        last_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    throttle_events (id) {
        id -> BigInt,
        kind -> Text,
        key -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    bans (kind, key) {
        kind -> Text,
        key -> Text,
        until -> BigInt,
        created_at -> BigInt,
        reason -> Text,
    }
}

diesel::table! {
    user_groups (user_id, group_name) {
        user_id -> Text,
        group_name -> Text,
        created_at -> BigInt,
    }
}

diesel::joinable!(user_groups -> users (user_id));

diesel::table! {
    health_probe (id) {
        id -> Text,
        checked_at -> BigInt,
    }
}

diesel::table! {
    email_tokens (token_hash) {
        token_hash -> Text,
        user_id -> Text,
        purpose -> Text,
        email -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::joinable!(email_tokens -> users (user_id));

diesel::table! {
    outbox (id) {
        id -> BigInt,
        created_at -> BigInt,
        kind -> Text,
        recipient -> Text,
        subject -> Text,
        payload -> Nullable<Binary>,
        attempts -> Integer,
        next_attempt_at -> BigInt,
        lease_until -> Nullable<BigInt>,
        sent_at -> Nullable<BigInt>,
        failed_at -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    recovery_codes (code_hash) {
        code_hash -> Text,
        user_id -> Text,
        created_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::joinable!(recovery_codes -> users (user_id));

diesel::table! {
    pending_signins (id_hash) {
        id_hash -> Text,
        user_id -> Text,
        password_hash -> Text,
        upgrade -> Nullable<Text>,
        remember -> Bool,
        next -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::joinable!(pending_signins -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    sessions,
    audit_events,
    throttle_events,
    bans,
    user_groups,
    health_probe,
    email_tokens,
    outbox,
    recovery_codes,
    pending_signins
);
