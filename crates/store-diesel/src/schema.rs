//! The diesel view of `migrations/sqlite`, kept by hand. The integration tests exercise every
//! column, so a mismatch with the SQL fails them.
//!
//! Only portable SQL types are used (`Text`, `BigInt`, `Integer`, `Binary`, `Bool`), so the
//! same definitions will describe the PostgreSQL migration too.

diesel::table! {
    users (id) {
        id -> Text,
        name -> Text,
        email -> Text,
        password_hash -> Text,
        profile_picture -> Nullable<Text>,
        status -> Text,
        email_verified_at -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
        deleted_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    verification_codes (id) {
        id -> Text,
        user_id -> Text,
        purpose -> Text,
        digest -> Binary,
        attempts -> Integer,
        expires_at -> BigInt,
        consumed_at -> Nullable<BigInt>,
        created_at -> BigInt,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> Text,
        refresh_token_hash -> Binary,
        alert_token_hash -> Nullable<Binary>,
        remember_me -> Bool,
        ip_address -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        device -> Text,
        location -> Nullable<Text>,
        created_at -> BigInt,
        last_seen_at -> BigInt,
        expires_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        user_id -> Nullable<Text>,
        action -> Text,
        ip_address -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        device -> Text,
        location -> Nullable<Text>,
        fingerprint -> Nullable<Text>,
        metadata -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    notifications (id) {
        id -> Text,
        user_id -> Text,
        kind -> Text,
        title -> Text,
        body -> Text,
        data -> Text,
        read_at -> Nullable<BigInt>,
        created_at -> BigInt,
    }
}

diesel::table! {
    mail_outbox (id) {
        id -> Text,
        to_email -> Text,
        to_name -> Nullable<Text>,
        subject -> Text,
        body -> Text,
        attempts -> Integer,
        next_attempt_at -> BigInt,
        locked_until -> Nullable<BigInt>,
        created_at -> BigInt,
    }
}

diesel::table! {
    rate_events (id) {
        id -> BigInt,
        key -> Text,
        at -> BigInt,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(verification_codes -> users (user_id));
diesel::joinable!(notifications -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    verification_codes,
    sessions,
    audit_log,
    notifications,
    mail_outbox,
    rate_events,
);
