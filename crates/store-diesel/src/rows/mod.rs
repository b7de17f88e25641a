//! Row structs (the diesel side) and their conversions to and from domain values. Domain types
//! carry no diesel or serde derives, so the JSON shapes of `device`, `location`, `metadata`
//! and notification `data` are fixed here too.

mod account;
mod json;
mod log;

use std::net::IpAddr;
use std::str::FromStr;

use portcullis_domain::model::Timestamp;

pub(crate) use account::{CodeRow, SessionRow, UserRow};
pub(crate) use log::{AuditRow, MailRow, NewAuditRow, NotificationRow};

use crate::error::DbError;

/// Parses an id column.
pub(crate) fn parse<T: FromStr>(text: &str, what: &str) -> Result<T, DbError> {
    text.parse().map_err(|_| DbError::corrupt(format!("{what} {text:?}")))
}

pub(super) fn ts(ms: i64) -> Timestamp {
    Timestamp::from_unix_millis(ms)
}

pub(super) fn opt_ts(ms: Option<i64>) -> Option<Timestamp> {
    ms.map(Timestamp::from_unix_millis)
}

/// A `u32` count as an `INTEGER` column (saturating; counts never get near).
pub(crate) fn count_to_db(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

pub(super) fn count_from_db(n: i32, what: &str) -> Result<u32, DbError> {
    u32::try_from(n).map_err(|_| DbError::corrupt(format!("{what} {n}")))
}

pub(super) fn parse_ip(text: Option<String>) -> Result<Option<IpAddr>, DbError> {
    text.map(|t| parse(&t, "ip address")).transpose()
}
