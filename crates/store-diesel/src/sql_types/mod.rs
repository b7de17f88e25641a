//! The four column types whose storage differs between the backends, and the Rust values
//! that travel through them. This is what lets one `schema.rs`, one set of row structs and one
//! body per query serve SQLite and PostgreSQL: each SQL type below names PostgreSQL's type and
//! has a SQLite representation, and its value type converts to and from both (`pg.rs`,
//! `sqlite.rs`).
//!
//! | SQL type here   | PostgreSQL    | SQLite                  | value       |
//! |-----------------|---------------|-------------------------|-------------|
//! | [`Uuid`]        | `uuid`        | hyphenated `TEXT`       | [`DbUuid`]  |
//! | [`UtcMillis`]   | `timestamptz` | `BIGINT` unix millis    | [`DbTime`]  |
//! | [`Jsonb`]       | `jsonb`       | `TEXT`                  | [`DbJson`]  |
//! | [`IpAddress`]   | `inet`        | `TEXT`                  | [`DbIp`]    |
//!
//! The array OIDs matter: `eq_any` binds its list as one PostgreSQL array. The time and address
//! types are not called `Timestamptz` and `Inet` because `table!` recognises those names and
//! derives date and network operators for them, which these types do not offer.

mod pg;
mod sqlite;

use std::net::IpAddr;

use diesel::{AsExpression, FromSqlRow, QueryId, SqlType};
use portcullis_domain::model::{
    CodeId, EmailChangeId, FactorId, MailId, NotificationId, SessionId, Timestamp, UserId, WebhookId,
};

/// A UUID column.
#[derive(SqlType, QueryId, Clone, Copy, Debug, Default)]
#[diesel(postgres_type(oid = 2950, array_oid = 2951))]
#[diesel(sqlite_type(name = "Text"))]
pub struct Uuid;

/// A UTC instant with millisecond precision (PostgreSQL `timestamptz`).
#[derive(SqlType, QueryId, Clone, Copy, Debug, Default)]
#[diesel(postgres_type(oid = 1184, array_oid = 1185))]
#[diesel(sqlite_type(name = "Long"))]
pub struct UtcMillis;

/// A JSON document (written and read as text by the row code).
#[derive(SqlType, QueryId, Clone, Copy, Debug, Default)]
#[diesel(postgres_type(oid = 3802, array_oid = 3807))]
#[diesel(sqlite_type(name = "Text"))]
pub struct Jsonb;

/// A host address, IPv4 or IPv6.
#[derive(SqlType, QueryId, Clone, Copy, Debug, Default)]
#[diesel(postgres_type(oid = 869, array_oid = 1041))]
#[diesel(sqlite_type(name = "Text"))]
pub struct IpAddress;

/// Any of the domain's ids, as stored.
#[derive(AsExpression, FromSqlRow, Clone, Copy, Debug, PartialEq, Eq)]
#[diesel(sql_type = Uuid)]
pub(crate) struct DbUuid(pub(crate) uuid::Uuid);

/// A domain [`Timestamp`], as stored.
#[derive(AsExpression, FromSqlRow, Clone, Copy, Debug, PartialEq, Eq)]
#[diesel(sql_type = UtcMillis)]
pub(crate) struct DbTime(pub(crate) Timestamp);

/// JSON text, as stored.
#[derive(AsExpression, FromSqlRow, Clone, Debug, PartialEq, Eq)]
#[diesel(sql_type = Jsonb)]
pub(crate) struct DbJson(pub(crate) String);

/// An IP address, as stored.
#[derive(AsExpression, FromSqlRow, Clone, Copy, Debug, PartialEq, Eq)]
#[diesel(sql_type = IpAddress)]
pub(crate) struct DbIp(pub(crate) IpAddr);

/// Every id type converts both ways without parsing: the backends check the UUID itself.
macro_rules! id_conversions {
    ($($id:ty),* $(,)?) => {$(
        impl From<$id> for DbUuid {
            fn from(id: $id) -> Self {
                Self(id.as_uuid())
            }
        }
        impl From<DbUuid> for $id {
            fn from(id: DbUuid) -> Self {
                <$id>::from_uuid(id.0)
            }
        }
    )*};
}

id_conversions!(UserId, SessionId, NotificationId, MailId, CodeId, EmailChangeId, FactorId, WebhookId);

impl From<Timestamp> for DbTime {
    fn from(t: Timestamp) -> Self {
        Self(t)
    }
}

impl From<DbTime> for Timestamp {
    fn from(t: DbTime) -> Self {
        t.0
    }
}

impl From<IpAddr> for DbIp {
    fn from(ip: IpAddr) -> Self {
        Self(ip)
    }
}

impl From<DbIp> for IpAddr {
    fn from(ip: DbIp) -> Self {
        ip.0
    }
}
