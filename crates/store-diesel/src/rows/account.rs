//! Account rows: users, one-time codes, sessions and spent refresh tokens.

use diesel::prelude::*;
use portcullis_domain::model::{
    Aal, AccountStatus, CodePurpose, Email, PasswordHash, RefreshHit, SecretDigest, Session, StoredCode, User, UserName,
};

use super::json::{
    amr_from_db, amr_to_db, device_from_db, device_to_db, location_from_db, location_to_db, roles_from_db, roles_to_db,
};
use super::{count_from_db, count_to_db};
use crate::error::DbError;
use crate::schema::{sessions, spent_refresh_tokens, users, verification_codes};
use crate::sql_types::{DbIp, DbJson, DbTime, DbUuid};

/// A `users` row.
#[derive(Queryable, QueryableByName, Selectable, Insertable)]
#[diesel(table_name = users, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
#[diesel(treat_none_as_default_value = false)]
pub(crate) struct UserRow {
    id: DbUuid,
    name: String,
    email: String,
    password_hash: String,
    profile_picture: Option<String>,
    status: String,
    email_verified_at: Option<DbTime>,
    created_at: DbTime,
    updated_at: DbTime,
    deleted_at: Option<DbTime>,
    roles: DbJson,
}

impl TryFrom<&User> for UserRow {
    type Error = DbError;
    fn try_from(u: &User) -> Result<Self, DbError> {
        Ok(Self {
            id: u.id.into(),
            name: u.name.as_str().to_owned(),
            email: u.email.as_str().to_owned(),
            password_hash: u.password_hash.as_str().to_owned(),
            profile_picture: u.profile_picture.clone(),
            status: u.status.as_str().to_owned(),
            email_verified_at: u.email_verified_at.map(DbTime),
            created_at: DbTime(u.created_at),
            updated_at: DbTime(u.updated_at),
            deleted_at: u.deleted_at.map(DbTime),
            roles: roles_to_db(&u.roles)?,
        })
    }
}

impl TryFrom<UserRow> for User {
    type Error = DbError;
    fn try_from(r: UserRow) -> Result<Self, DbError> {
        Ok(User {
            id: r.id.into(),
            name: UserName::parse(&r.name).map_err(|e| DbError::corrupt(format!("user name: {e}")))?,
            email: Email::parse(&r.email).map_err(|e| DbError::corrupt(format!("user email: {e}")))?,
            password_hash: PasswordHash::new(r.password_hash),
            profile_picture: r.profile_picture,
            status: AccountStatus::parse(&r.status)
                .ok_or_else(|| DbError::corrupt(format!("account status {:?}", r.status)))?,
            email_verified_at: r.email_verified_at.map(Into::into),
            created_at: r.created_at.into(),
            updated_at: r.updated_at.into(),
            deleted_at: r.deleted_at.map(Into::into),
            roles: roles_from_db(&r.roles)?,
        })
    }
}

/// A `verification_codes` row.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = verification_codes, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
#[diesel(treat_none_as_default_value = false)]
pub(crate) struct CodeRow {
    pub(crate) id: DbUuid,
    pub(crate) user_id: DbUuid,
    pub(crate) purpose: String,
    digest: Vec<u8>,
    attempts: i32,
    expires_at: DbTime,
    consumed_at: Option<DbTime>,
    created_at: DbTime,
}

impl From<&StoredCode> for CodeRow {
    fn from(c: &StoredCode) -> Self {
        Self {
            id: c.id.into(),
            user_id: c.user_id.into(),
            purpose: c.purpose.as_str().to_owned(),
            digest: c.digest.as_bytes().to_vec(),
            attempts: count_to_db(c.attempts),
            expires_at: DbTime(c.expires_at),
            consumed_at: c.consumed_at.map(DbTime),
            created_at: DbTime(c.created_at),
        }
    }
}

impl TryFrom<CodeRow> for StoredCode {
    type Error = DbError;
    fn try_from(r: CodeRow) -> Result<Self, DbError> {
        Ok(StoredCode {
            id: r.id.into(),
            user_id: r.user_id.into(),
            purpose: CodePurpose::parse(&r.purpose)
                .ok_or_else(|| DbError::corrupt(format!("code purpose {:?}", r.purpose)))?,
            digest: SecretDigest::new(r.digest),
            attempts: count_from_db(r.attempts, "code attempts")?,
            expires_at: r.expires_at.into(),
            consumed_at: r.consumed_at.map(Into::into),
            created_at: r.created_at.into(),
        })
    }
}

/// A `sessions` row.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
#[diesel(treat_none_as_default_value = false)]
pub(crate) struct SessionRow {
    id: DbUuid,
    user_id: DbUuid,
    refresh_token_hash: Vec<u8>,
    alert_token_hash: Option<Vec<u8>>,
    remember_me: bool,
    ip_address: Option<DbIp>,
    user_agent: Option<String>,
    device: DbJson,
    location: Option<DbJson>,
    created_at: DbTime,
    last_seen_at: DbTime,
    expires_at: DbTime,
    revoked_at: Option<DbTime>,
    alert_expires_at: Option<DbTime>,
    aal: i16,
    amr: DbJson,
}

impl TryFrom<&Session> for SessionRow {
    type Error = DbError;
    fn try_from(s: &Session) -> Result<Self, DbError> {
        Ok(Self {
            id: s.id.into(),
            user_id: s.user_id.into(),
            refresh_token_hash: s.refresh_token_hash.as_bytes().to_vec(),
            alert_token_hash: s.alert_token_hash.as_ref().map(|d| d.as_bytes().to_vec()),
            remember_me: s.remember_me,
            ip_address: s.ip_address.map(DbIp),
            user_agent: s.user_agent.clone(),
            device: device_to_db(&s.device)?,
            location: location_to_db(s.location.as_ref())?,
            created_at: DbTime(s.created_at),
            last_seen_at: DbTime(s.last_seen_at),
            expires_at: DbTime(s.expires_at),
            revoked_at: s.revoked_at.map(DbTime),
            alert_expires_at: s.alert_expires_at.map(DbTime),
            aal: i16::from(s.aal.as_u8()),
            amr: amr_to_db(&s.amr)?,
        })
    }
}

impl TryFrom<SessionRow> for Session {
    type Error = DbError;
    fn try_from(r: SessionRow) -> Result<Self, DbError> {
        Ok(Session {
            id: r.id.into(),
            user_id: r.user_id.into(),
            refresh_token_hash: SecretDigest::new(r.refresh_token_hash),
            alert_token_hash: r.alert_token_hash.map(SecretDigest::new),
            remember_me: r.remember_me,
            ip_address: r.ip_address.map(Into::into),
            user_agent: r.user_agent,
            device: device_from_db(&r.device)?,
            location: location_from_db(r.location)?,
            created_at: r.created_at.into(),
            last_seen_at: r.last_seen_at.into(),
            expires_at: r.expires_at.into(),
            revoked_at: r.revoked_at.map(Into::into),
            alert_expires_at: r.alert_expires_at.map(Into::into),
            aal: u8::try_from(r.aal)
                .ok()
                .and_then(Aal::from_u8)
                .ok_or_else(|| DbError::corrupt(format!("session aal {}", r.aal)))?,
            amr: amr_from_db(&r.amr)?,
        })
    }
}

/// A `spent_refresh_tokens` row: a refresh token its session has rotated away from.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = spent_refresh_tokens, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
#[diesel(treat_none_as_default_value = false)]
pub(crate) struct SpentRefreshRow {
    pub(crate) digest: Vec<u8>,
    pub(crate) session_id: DbUuid,
    pub(crate) spent_at: DbTime,
    pub(crate) successor: String,
}

impl From<SpentRefreshRow> for RefreshHit {
    fn from(r: SpentRefreshRow) -> Self {
        RefreshHit::Spent { spent_at: r.spent_at.into(), successor: r.successor }
    }
}
