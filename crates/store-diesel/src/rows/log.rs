//! Log and queue rows: audit entries, notifications, outgoing mail.

use diesel::prelude::*;
use portcullis_domain::model::{AuditEntry, Email, NewAuditEntry, Notification, OutgoingMail};

use super::json::{device_from_db, device_to_db, from_json, location_from_db, location_to_db, to_json};
use super::{count_from_db, count_to_db};
use crate::error::DbError;
use crate::schema::{audit_log, mail_outbox, notifications};
use crate::sql_types::{DbIp, DbJson, DbTime, DbUuid};

/// An `audit_log` row about to be inserted (the id is the database's).
#[derive(Insertable)]
#[diesel(table_name = audit_log, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
#[diesel(treat_none_as_default_value = false)]
pub(crate) struct NewAuditRow {
    user_id: Option<DbUuid>,
    action: String,
    ip_address: Option<DbIp>,
    user_agent: Option<String>,
    device: DbJson,
    location: Option<DbJson>,
    fingerprint: Option<String>,
    metadata: DbJson,
    created_at: DbTime,
}

impl TryFrom<&NewAuditEntry> for NewAuditRow {
    type Error = DbError;
    fn try_from(e: &NewAuditEntry) -> Result<Self, DbError> {
        Ok(Self {
            user_id: e.user_id.map(Into::into),
            action: e.action.as_str().to_owned(),
            ip_address: Some(DbIp(e.enrichment.ip_address)),
            user_agent: e.enrichment.user_agent.clone(),
            device: device_to_db(&e.enrichment.device)?,
            location: location_to_db(e.enrichment.location.as_ref())?,
            fingerprint: e.fingerprint.clone(),
            metadata: to_json(&e.metadata)?,
            created_at: DbTime(e.created_at),
        })
    }
}

/// A stored `audit_log` row.
#[derive(Queryable, Selectable)]
#[diesel(table_name = audit_log, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub(crate) struct AuditRow {
    id: i64,
    user_id: Option<DbUuid>,
    action: String,
    ip_address: Option<DbIp>,
    user_agent: Option<String>,
    device: DbJson,
    location: Option<DbJson>,
    fingerprint: Option<String>,
    metadata: DbJson,
    created_at: DbTime,
}

impl TryFrom<AuditRow> for AuditEntry {
    type Error = DbError;
    fn try_from(r: AuditRow) -> Result<Self, DbError> {
        Ok(AuditEntry {
            id: r.id,
            user_id: r.user_id.map(Into::into),
            action: r.action,
            ip_address: r.ip_address.map(Into::into),
            user_agent: r.user_agent,
            device: device_from_db(&r.device)?,
            location: location_from_db(r.location)?,
            fingerprint: r.fingerprint,
            metadata: from_json(&r.metadata, "audit metadata")?,
            created_at: r.created_at.into(),
        })
    }
}

/// A `notifications` row.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = notifications, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
#[diesel(treat_none_as_default_value = false)]
pub(crate) struct NotificationRow {
    id: DbUuid,
    user_id: DbUuid,
    kind: String,
    title: String,
    body: String,
    data: DbJson,
    read_at: Option<DbTime>,
    created_at: DbTime,
}

impl TryFrom<&Notification> for NotificationRow {
    type Error = DbError;
    fn try_from(n: &Notification) -> Result<Self, DbError> {
        Ok(Self {
            id: n.id.into(),
            user_id: n.user_id.into(),
            kind: n.kind.clone(),
            title: n.title.clone(),
            body: n.body.clone(),
            data: to_json(&n.data)?,
            read_at: n.read_at.map(DbTime),
            created_at: DbTime(n.created_at),
        })
    }
}

impl TryFrom<NotificationRow> for Notification {
    type Error = DbError;
    fn try_from(r: NotificationRow) -> Result<Self, DbError> {
        Ok(Notification {
            id: r.id.into(),
            user_id: r.user_id.into(),
            kind: r.kind,
            title: r.title,
            body: r.body,
            data: from_json(&r.data, "notification data")?,
            read_at: r.read_at.map(Into::into),
            created_at: r.created_at.into(),
        })
    }
}

/// A `mail_outbox` row, without the lease and failure columns (which only the outbox queries
/// touch).
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = mail_outbox, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
#[diesel(treat_none_as_default_value = false)]
pub(crate) struct MailRow {
    pub(crate) id: DbUuid,
    to_email: String,
    to_name: Option<String>,
    subject: String,
    body: String,
    html_body: Option<String>,
    attempts: i32,
    next_attempt_at: DbTime,
    created_at: DbTime,
}

impl From<&OutgoingMail> for MailRow {
    fn from(m: &OutgoingMail) -> Self {
        Self {
            id: m.id.into(),
            to_email: m.to.as_str().to_owned(),
            to_name: m.to_name.clone(),
            subject: m.subject.clone(),
            body: m.body.clone(),
            html_body: m.html_body.clone(),
            attempts: count_to_db(m.attempts),
            next_attempt_at: DbTime(m.next_attempt_at),
            created_at: DbTime(m.created_at),
        }
    }
}

impl TryFrom<MailRow> for OutgoingMail {
    type Error = DbError;
    fn try_from(r: MailRow) -> Result<Self, DbError> {
        Ok(OutgoingMail {
            id: r.id.into(),
            to: Email::parse(&r.to_email).map_err(|e| DbError::corrupt(format!("mail recipient: {e}")))?,
            to_name: r.to_name,
            subject: r.subject,
            body: r.body,
            html_body: r.html_body,
            attempts: count_from_db(r.attempts, "mail attempts")?,
            next_attempt_at: r.next_attempt_at.into(),
            created_at: r.created_at.into(),
        })
    }
}

/// The `device` of an erased audit entry: every part unknown.
pub(crate) fn erased_device() -> Result<DbJson, DbError> {
    device_to_db(&portcullis_domain::model::Device::default())
}

/// Metadata members an erasure removes, since the user chose them or they identify a
/// client: a factor's `name` and a client-reported `fingerprint`.
const ERASED_METADATA: [&str; 2] = ["name", "fingerprint"];

/// `metadata` without the members an erasure removes, or `None` when it has none of them.
pub(crate) fn erased_metadata(metadata: &DbJson) -> Result<Option<DbJson>, DbError> {
    let mut map: serde_json::Map<String, serde_json::Value> = from_json(metadata, "audit metadata")?;
    let before = map.len();
    for key in ERASED_METADATA {
        map.remove(key);
    }
    if map.len() == before { Ok(None) } else { Ok(Some(to_json(&map)?)) }
}
