//! PostgreSQL storage of the portable column types, delegating to diesel's own `uuid`,
//! `timestamptz` (through `time`) and `inet` (through `ipnet`) codecs. `jsonb` is written by
//! hand: its binary form is a version byte (1) followed by the JSON text, and the row code
//! already has that text.

use std::io::Write;

use diesel::deserialize::{self, FromSql};
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types;
use ipnet::IpNet;
use portcullis_domain::model::Timestamp;
use time::OffsetDateTime;

use super::{DbIp, DbJson, DbTime, DbUuid, IpAddress, Jsonb, UtcMillis, Uuid};

/// The only `jsonb` binary format version PostgreSQL has.
const JSONB_VERSION: u8 = 1;

impl ToSql<Uuid, Pg> for DbUuid {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <uuid::Uuid as ToSql<sql_types::Uuid, Pg>>::to_sql(&self.0, out)
    }
}

impl FromSql<Uuid, Pg> for DbUuid {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        <uuid::Uuid as FromSql<sql_types::Uuid, Pg>>::from_sql(value).map(Self)
    }
}

impl ToSql<UtcMillis, Pg> for DbTime {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        // Checked rather than `Timestamp::to_datetime`, which falls back to the epoch: an
        // instant outside `time`'s range must fail the write, not move.
        let nanos = i128::from(self.0.unix_millis()) * 1_000_000;
        let at = OffsetDateTime::from_unix_timestamp_nanos(nanos)
            .map_err(|e| format!("timestamp {} ms is out of range: {e}", self.0.unix_millis()))?;
        <OffsetDateTime as ToSql<sql_types::Timestamptz, Pg>>::to_sql(&at, &mut out.reborrow())
    }
}

impl FromSql<UtcMillis, Pg> for DbTime {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        let at = <OffsetDateTime as FromSql<sql_types::Timestamptz, Pg>>::from_sql(value)?;
        Ok(Self(Timestamp::from_datetime(at)))
    }
}

impl ToSql<Jsonb, Pg> for DbJson {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        out.write_all(&[JSONB_VERSION])?;
        out.write_all(self.0.as_bytes())?;
        Ok(IsNull::No)
    }
}

impl FromSql<Jsonb, Pg> for DbJson {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        match value.as_bytes().split_first() {
            Some((&JSONB_VERSION, text)) => Ok(Self(String::from_utf8(text.to_vec())?)),
            _ => Err("unsupported jsonb binary format".into()),
        }
    }
}

impl ToSql<IpAddress, Pg> for DbIp {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        // A host address: /32 or /128.
        let net = IpNet::from(self.0);
        <IpNet as ToSql<sql_types::Inet, Pg>>::to_sql(&net, &mut out.reborrow())
    }
}

impl FromSql<IpAddress, Pg> for DbIp {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        let net = <IpNet as FromSql<sql_types::Inet, Pg>>::from_sql(value)?;
        Ok(Self(net.addr()))
    }
}
