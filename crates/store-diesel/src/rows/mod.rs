//! Row structs (the diesel side) and their conversions to and from domain values. Domain types
//! carry no diesel or serde derives, so the JSON shapes of `device`, `location`, `metadata`
//! notification `data` and user `roles` are fixed here too. The rows use the portable value types of
//! [`crate::sql_types`], so each struct serves both backends.

mod account;
mod email_change;
mod factor;
mod json;
mod log;
mod passkey;
mod webhook;

pub(crate) use account::{CodeRow, SessionRow, SpentRefreshRow, UserRow};
pub(crate) use email_change::EmailChangeRow;
pub(crate) use factor::{FactorRow, RecoveryCodeRow, step_to_db};
pub(crate) use json::roles_to_db;
pub(crate) use log::{AuditRow, MailRow, NewAuditRow, NotificationRow, erased_device, erased_metadata};
pub(crate) use passkey::{CeremonyRow, PasskeyRow};
pub(crate) use webhook::{DeliveryRow, EndpointRow, SubscriptionRow, status_to_db};

use crate::error::DbError;

/// A `u32` count as an `INTEGER` column (saturating; counts never get near).
pub(crate) fn count_to_db(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

pub(super) fn count_from_db(n: i32, what: &str) -> Result<u32, DbError> {
    u32::try_from(n).map_err(|_| DbError::corrupt(format!("{what} {n}")))
}
