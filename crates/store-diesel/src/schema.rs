//! The diesel view of both migration sets (`migrations/sqlite`, `migrations/postgres`), kept
//! by hand. One schema serves both backends: the columns whose storage differs use the
//! portable SQL types of [`crate::sql_types`] (`uuid`/`timestamptz`/`jsonb`/`inet` on
//! PostgreSQL, TEXT/BIGINT on SQLite); the rest (`Text`, `BigInt`, `Integer`, `Binary`,
//! `Bool`) mean the same on both. The integration tests exercise every column on both
//! backends, so a mismatch with either SQL fails them. (In each `table!`, the explicit import
//! of those types shadows diesel's same-named ones from the glob.)

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{IpAddress, Jsonb, UtcMillis, Uuid};

    users (id) {
        id -> Uuid,
        name -> Text,
        email -> Text,
        password_hash -> Text,
        profile_picture -> Nullable<Text>,
        status -> Text,
        email_verified_at -> Nullable<UtcMillis>,
        created_at -> UtcMillis,
        updated_at -> UtcMillis,
        deleted_at -> Nullable<UtcMillis>,
        roles -> Jsonb,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{IpAddress, Jsonb, UtcMillis, Uuid};

    verification_codes (id) {
        id -> Uuid,
        user_id -> Uuid,
        purpose -> Text,
        digest -> Binary,
        attempts -> Integer,
        expires_at -> UtcMillis,
        consumed_at -> Nullable<UtcMillis>,
        created_at -> UtcMillis,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{UtcMillis, Uuid};

    email_changes (id) {
        id -> Uuid,
        user_id -> Uuid,
        old_email -> Text,
        new_email -> Text,
        created_at -> UtcMillis,
        confirmed_at -> Nullable<UtcMillis>,
        revert_token_hash -> Nullable<Binary>,
        revert_expires_at -> Nullable<UtcMillis>,
        reverted_at -> Nullable<UtcMillis>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{IpAddress, Jsonb, UtcMillis, Uuid};

    sessions (id) {
        id -> Uuid,
        user_id -> Uuid,
        refresh_token_hash -> Binary,
        alert_token_hash -> Nullable<Binary>,
        remember_me -> Bool,
        ip_address -> Nullable<IpAddress>,
        user_agent -> Nullable<Text>,
        device -> Jsonb,
        location -> Nullable<Jsonb>,
        created_at -> UtcMillis,
        last_seen_at -> UtcMillis,
        expires_at -> UtcMillis,
        revoked_at -> Nullable<UtcMillis>,
        alert_expires_at -> Nullable<UtcMillis>,
        aal -> SmallInt,
        amr -> Jsonb,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{UtcMillis, Uuid};

    mfa_factors (id) {
        id -> Uuid,
        user_id -> Uuid,
        kind -> Text,
        name -> Text,
        secret -> Binary,
        created_at -> UtcMillis,
        confirmed_at -> Nullable<UtcMillis>,
        last_used_step -> Nullable<BigInt>,
        last_used_at -> Nullable<UtcMillis>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{UtcMillis, Uuid};

    passkeys (factor_id) {
        factor_id -> Uuid,
        user_id -> Uuid,
        credential_id -> Binary,
        credential -> Text,
        sign_count -> BigInt,
        user_verified -> Bool,
        backed_up -> Bool,
        disabled_at -> Nullable<UtcMillis>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{UtcMillis, Uuid};

    webauthn_challenges (digest) {
        digest -> Binary,
        purpose -> Text,
        user_id -> Nullable<Uuid>,
        binding -> Nullable<Binary>,
        state -> Text,
        created_at -> UtcMillis,
        expires_at -> UtcMillis,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{UtcMillis, Uuid};

    recovery_codes (user_id, digest) {
        user_id -> Uuid,
        digest -> Binary,
        created_at -> UtcMillis,
        used_at -> Nullable<UtcMillis>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{IpAddress, Jsonb, UtcMillis, Uuid};

    spent_refresh_tokens (digest) {
        digest -> Binary,
        session_id -> Uuid,
        spent_at -> UtcMillis,
        successor -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{IpAddress, Jsonb, UtcMillis, Uuid};

    audit_log (id) {
        id -> BigInt,
        user_id -> Nullable<Uuid>,
        action -> Text,
        ip_address -> Nullable<IpAddress>,
        user_agent -> Nullable<Text>,
        device -> Jsonb,
        location -> Nullable<Jsonb>,
        fingerprint -> Nullable<Text>,
        metadata -> Jsonb,
        created_at -> UtcMillis,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{IpAddress, Jsonb, UtcMillis, Uuid};

    notifications (id) {
        id -> Uuid,
        user_id -> Uuid,
        kind -> Text,
        title -> Text,
        body -> Text,
        data -> Jsonb,
        read_at -> Nullable<UtcMillis>,
        created_at -> UtcMillis,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{IpAddress, Jsonb, UtcMillis, Uuid};

    mail_outbox (id) {
        id -> Uuid,
        to_email -> Text,
        to_name -> Nullable<Text>,
        subject -> Text,
        body -> Text,
        attempts -> Integer,
        next_attempt_at -> UtcMillis,
        locked_until -> Nullable<UtcMillis>,
        created_at -> UtcMillis,
        failed_at -> Nullable<UtcMillis>,
        html_body -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{IpAddress, Jsonb, UtcMillis, Uuid};

    rate_events (id) {
        id -> BigInt,
        key -> Text,
        at -> UtcMillis,
        pending_until -> Nullable<UtcMillis>,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(spent_refresh_tokens -> sessions (session_id));
diesel::joinable!(verification_codes -> users (user_id));
diesel::joinable!(email_changes -> users (user_id));
diesel::joinable!(notifications -> users (user_id));
diesel::joinable!(mfa_factors -> users (user_id));
diesel::joinable!(recovery_codes -> users (user_id));
diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{UtcMillis, Uuid};

    webhook_endpoints (id) {
        id -> Uuid,
        url -> Text,
        description -> Text,
        enabled -> Bool,
        disabled_reason -> Nullable<Text>,
        secret -> Binary,
        previous_secret -> Nullable<Binary>,
        previous_secret_until -> Nullable<UtcMillis>,
        created_at -> UtcMillis,
        updated_at -> UtcMillis,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::Uuid;

    webhook_subscriptions (webhook_id, pattern) {
        webhook_id -> Uuid,
        pattern -> Text,
        prefix -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{UtcMillis, Uuid};

    webhook_deliveries (id) {
        id -> BigInt,
        webhook_id -> Uuid,
        audit_id -> Nullable<BigInt>,
        event_type -> Text,
        status -> Text,
        attempts -> Integer,
        last_status_code -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        next_attempt_at -> Nullable<UtcMillis>,
        locked_until -> Nullable<UtcMillis>,
        created_at -> UtcMillis,
        delivered_at -> Nullable<UtcMillis>,
    }
}

diesel::joinable!(passkeys -> mfa_factors (factor_id));
diesel::joinable!(webhook_subscriptions -> webhook_endpoints (webhook_id));
diesel::joinable!(webhook_deliveries -> webhook_endpoints (webhook_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    verification_codes,
    email_changes,
    sessions,
    spent_refresh_tokens,
    audit_log,
    notifications,
    mail_outbox,
    rate_events,
    mfa_factors,
    recovery_codes,
    passkeys,
    webauthn_challenges,
    webhook_endpoints,
    webhook_subscriptions,
    webhook_deliveries,
);
