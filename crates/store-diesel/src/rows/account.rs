//! Account rows: users, one-time codes, sessions.

use diesel::prelude::*;
use portcullis_domain::model::{
    AccountStatus, CodePurpose, Email, PasswordHash, SecretDigest, Session, StoredCode, Timestamp, User, UserName,
};

use super::json::{device_from_db, device_to_db, location_from_db, location_to_db};
use super::{count_from_db, count_to_db, opt_ts, parse, parse_ip, ts};
use crate::error::DbError;
use crate::schema::{sessions, users, verification_codes};

/// A `users` row.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = users, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub(crate) struct UserRow {
    id: String,
    name: String,
    email: String,
    password_hash: String,
    profile_picture: Option<String>,
    status: String,
    email_verified_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
    deleted_at: Option<i64>,
}

impl From<&User> for UserRow {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.to_string(),
            name: u.name.as_str().to_owned(),
            email: u.email.as_str().to_owned(),
            password_hash: u.password_hash.as_str().to_owned(),
            profile_picture: u.profile_picture.clone(),
            status: u.status.as_str().to_owned(),
            email_verified_at: u.email_verified_at.map(Timestamp::unix_millis),
            created_at: u.created_at.unix_millis(),
            updated_at: u.updated_at.unix_millis(),
            deleted_at: u.deleted_at.map(Timestamp::unix_millis),
        }
    }
}

impl TryFrom<UserRow> for User {
    type Error = DbError;
    fn try_from(r: UserRow) -> Result<Self, DbError> {
        Ok(User {
            id: parse(&r.id, "user id")?,
            name: UserName::parse(&r.name).map_err(|e| DbError::corrupt(format!("user name: {e}")))?,
            email: Email::parse(&r.email).map_err(|e| DbError::corrupt(format!("user email: {e}")))?,
            password_hash: PasswordHash::new(r.password_hash),
            profile_picture: r.profile_picture,
            status: AccountStatus::parse(&r.status)
                .ok_or_else(|| DbError::corrupt(format!("account status {:?}", r.status)))?,
            email_verified_at: opt_ts(r.email_verified_at),
            created_at: ts(r.created_at),
            updated_at: ts(r.updated_at),
            deleted_at: opt_ts(r.deleted_at),
        })
    }
}

/// A `verification_codes` row.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = verification_codes, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub(crate) struct CodeRow {
    pub(crate) id: String,
    pub(crate) user_id: String,
    pub(crate) purpose: String,
    digest: Vec<u8>,
    attempts: i32,
    expires_at: i64,
    consumed_at: Option<i64>,
    created_at: i64,
}

impl From<&StoredCode> for CodeRow {
    fn from(c: &StoredCode) -> Self {
        Self {
            id: c.id.to_string(),
            user_id: c.user_id.to_string(),
            purpose: c.purpose.as_str().to_owned(),
            digest: c.digest.as_bytes().to_vec(),
            attempts: count_to_db(c.attempts),
            expires_at: c.expires_at.unix_millis(),
            consumed_at: c.consumed_at.map(Timestamp::unix_millis),
            created_at: c.created_at.unix_millis(),
        }
    }
}

impl TryFrom<CodeRow> for StoredCode {
    type Error = DbError;
    fn try_from(r: CodeRow) -> Result<Self, DbError> {
        Ok(StoredCode {
            id: parse(&r.id, "code id")?,
            user_id: parse(&r.user_id, "user id")?,
            purpose: CodePurpose::parse(&r.purpose)
                .ok_or_else(|| DbError::corrupt(format!("code purpose {:?}", r.purpose)))?,
            digest: SecretDigest::new(r.digest),
            attempts: count_from_db(r.attempts, "code attempts")?,
            expires_at: ts(r.expires_at),
            consumed_at: opt_ts(r.consumed_at),
            created_at: ts(r.created_at),
        })
    }
}

/// A `sessions` row.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub(crate) struct SessionRow {
    id: String,
    user_id: String,
    refresh_token_hash: Vec<u8>,
    alert_token_hash: Option<Vec<u8>>,
    remember_me: bool,
    ip_address: Option<String>,
    user_agent: Option<String>,
    device: String,
    location: Option<String>,
    created_at: i64,
    last_seen_at: i64,
    expires_at: i64,
    revoked_at: Option<i64>,
}

impl TryFrom<&Session> for SessionRow {
    type Error = DbError;
    fn try_from(s: &Session) -> Result<Self, DbError> {
        Ok(Self {
            id: s.id.to_string(),
            user_id: s.user_id.to_string(),
            refresh_token_hash: s.refresh_token_hash.as_bytes().to_vec(),
            alert_token_hash: s.alert_token_hash.as_ref().map(|d| d.as_bytes().to_vec()),
            remember_me: s.remember_me,
            ip_address: s.ip_address.map(|ip| ip.to_string()),
            user_agent: s.user_agent.clone(),
            device: device_to_db(&s.device)?,
            location: location_to_db(s.location.as_ref())?,
            created_at: s.created_at.unix_millis(),
            last_seen_at: s.last_seen_at.unix_millis(),
            expires_at: s.expires_at.unix_millis(),
            revoked_at: s.revoked_at.map(Timestamp::unix_millis),
        })
    }
}

impl TryFrom<SessionRow> for Session {
    type Error = DbError;
    fn try_from(r: SessionRow) -> Result<Self, DbError> {
        Ok(Session {
            id: parse(&r.id, "session id")?,
            user_id: parse(&r.user_id, "user id")?,
            refresh_token_hash: SecretDigest::new(r.refresh_token_hash),
            alert_token_hash: r.alert_token_hash.map(SecretDigest::new),
            remember_me: r.remember_me,
            ip_address: parse_ip(r.ip_address)?,
            user_agent: r.user_agent,
            device: device_from_db(&r.device)?,
            location: location_from_db(r.location)?,
            created_at: ts(r.created_at),
            last_seen_at: ts(r.last_seen_at),
            expires_at: ts(r.expires_at),
            revoked_at: opt_ts(r.revoked_at),
        })
    }
}
