//! Log and queue rows: audit entries, notifications, outgoing mail.

use diesel::prelude::*;
use portcullis_domain::model::{AuditEntry, Email, NewAuditEntry, Notification, OutgoingMail, Timestamp};

use super::json::{device_from_db, device_to_db, from_json, location_from_db, location_to_db, to_json};
use super::{count_from_db, count_to_db, parse, parse_ip, ts};
use crate::error::DbError;
use crate::schema::{audit_log, mail_outbox, notifications};

/// An `audit_log` row about to be inserted (the id is the database's).
#[derive(Insertable)]
#[diesel(table_name = audit_log, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub(crate) struct NewAuditRow {
    user_id: Option<String>,
    action: String,
    ip_address: Option<String>,
    user_agent: Option<String>,
    device: String,
    location: Option<String>,
    fingerprint: Option<String>,
    metadata: String,
    created_at: i64,
}

impl TryFrom<&NewAuditEntry> for NewAuditRow {
    type Error = DbError;
    fn try_from(e: &NewAuditEntry) -> Result<Self, DbError> {
        Ok(Self {
            user_id: e.user_id.map(|id| id.to_string()),
            action: e.action.as_str().to_owned(),
            ip_address: Some(e.enrichment.ip_address.to_string()),
            user_agent: e.enrichment.user_agent.clone(),
            device: device_to_db(&e.enrichment.device)?,
            location: location_to_db(e.enrichment.location.as_ref())?,
            fingerprint: e.fingerprint.clone(),
            metadata: to_json(&e.metadata)?,
            created_at: e.created_at.unix_millis(),
        })
    }
}

/// A stored `audit_log` row.
#[derive(Queryable, Selectable)]
#[diesel(table_name = audit_log, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub(crate) struct AuditRow {
    id: i64,
    user_id: Option<String>,
    action: String,
    ip_address: Option<String>,
    user_agent: Option<String>,
    device: String,
    location: Option<String>,
    fingerprint: Option<String>,
    metadata: String,
    created_at: i64,
}

impl TryFrom<AuditRow> for AuditEntry {
    type Error = DbError;
    fn try_from(r: AuditRow) -> Result<Self, DbError> {
        Ok(AuditEntry {
            id: r.id,
            user_id: r.user_id.map(|id| parse(&id, "user id")).transpose()?,
            action: r.action,
            ip_address: parse_ip(r.ip_address)?,
            user_agent: r.user_agent,
            device: device_from_db(&r.device)?,
            location: location_from_db(r.location)?,
            fingerprint: r.fingerprint,
            metadata: from_json(&r.metadata, "audit metadata")?,
            created_at: ts(r.created_at),
        })
    }
}

/// A `notifications` row.
#[derive(Insertable)]
#[diesel(table_name = notifications, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub(crate) struct NotificationRow {
    id: String,
    user_id: String,
    kind: String,
    title: String,
    body: String,
    data: String,
    read_at: Option<i64>,
    created_at: i64,
}

impl TryFrom<&Notification> for NotificationRow {
    type Error = DbError;
    fn try_from(n: &Notification) -> Result<Self, DbError> {
        Ok(Self {
            id: n.id.to_string(),
            user_id: n.user_id.to_string(),
            kind: n.kind.clone(),
            title: n.title.clone(),
            body: n.body.clone(),
            data: to_json(&n.data)?,
            read_at: n.read_at.map(Timestamp::unix_millis),
            created_at: n.created_at.unix_millis(),
        })
    }
}

/// A `mail_outbox` row, without the lease column (which only the outbox queries touch).
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = mail_outbox, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub(crate) struct MailRow {
    pub(crate) id: String,
    to_email: String,
    to_name: Option<String>,
    subject: String,
    body: String,
    attempts: i32,
    next_attempt_at: i64,
    created_at: i64,
}

impl From<&OutgoingMail> for MailRow {
    fn from(m: &OutgoingMail) -> Self {
        Self {
            id: m.id.to_string(),
            to_email: m.to.as_str().to_owned(),
            to_name: m.to_name.clone(),
            subject: m.subject.clone(),
            body: m.body.clone(),
            attempts: count_to_db(m.attempts),
            next_attempt_at: m.next_attempt_at.unix_millis(),
            created_at: m.created_at.unix_millis(),
        }
    }
}

impl TryFrom<MailRow> for OutgoingMail {
    type Error = DbError;
    fn try_from(r: MailRow) -> Result<Self, DbError> {
        Ok(OutgoingMail {
            id: parse(&r.id, "mail id")?,
            to: Email::parse(&r.to_email).map_err(|e| DbError::corrupt(format!("mail recipient: {e}")))?,
            to_name: r.to_name,
            subject: r.subject,
            body: r.body,
            attempts: count_from_db(r.attempts, "mail attempts")?,
            next_attempt_at: ts(r.next_attempt_at),
            created_at: ts(r.created_at),
        })
    }
}
