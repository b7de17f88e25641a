//! SQLite storage of the portable column types: everything is TEXT except times, which are
//! BIGINT unix milliseconds (the same bytes the SQLite schema has always held).

use diesel::deserialize::{self, FromSql};
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::{BigInt, Text};
use diesel::sqlite::{Sqlite, SqliteValue};
use portcullis_domain::model::Timestamp;

use super::{DbIp, DbJson, DbTime, DbUuid, IpAddress, Jsonb, UtcMillis, Uuid};

fn text(value: SqliteValue<'_, '_, '_>) -> deserialize::Result<String> {
    <String as FromSql<Text, Sqlite>>::from_sql(value)
}

impl ToSql<Uuid, Sqlite> for DbUuid {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.0.hyphenated().to_string());
        Ok(IsNull::No)
    }
}

impl FromSql<Uuid, Sqlite> for DbUuid {
    fn from_sql(value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        let text = text(value)?;
        let id = uuid::Uuid::parse_str(&text).map_err(|e| format!("stored id {text:?}: {e}"))?;
        Ok(Self(id))
    }
}

impl ToSql<UtcMillis, Sqlite> for DbTime {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.0.unix_millis());
        Ok(IsNull::No)
    }
}

impl FromSql<UtcMillis, Sqlite> for DbTime {
    fn from_sql(value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        let millis = <i64 as FromSql<BigInt, Sqlite>>::from_sql(value)?;
        Ok(Self(Timestamp::from_unix_millis(millis)))
    }
}

impl ToSql<Jsonb, Sqlite> for DbJson {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.0.as_str());
        Ok(IsNull::No)
    }
}

impl FromSql<Jsonb, Sqlite> for DbJson {
    fn from_sql(value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        Ok(Self(text(value)?))
    }
}

impl ToSql<IpAddress, Sqlite> for DbIp {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.0.to_string());
        Ok(IsNull::No)
    }
}

impl FromSql<IpAddress, Sqlite> for DbIp {
    fn from_sql(value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        let text = text(value)?;
        let ip = text.parse().map_err(|e| format!("stored ip address {text:?}: {e}"))?;
        Ok(Self(ip))
    }
}
