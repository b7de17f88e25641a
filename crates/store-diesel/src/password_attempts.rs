//! [`PasswordAttempts`]: a limit's decision and the account it is for (a login's reservation,
//! a registration's mail allowance), in one store call (one statement on PostgreSQL, one
//! transaction on SQLite) instead of two.

use std::time::Duration;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use portcullis_domain::model::{Email, Timestamp, User};
use portcullis_domain::ports::{
    AttemptDecision, PasswordAttempts, Permit, RateDecision, RateLimiter, RateRule, StoreError,
};

use crate::DieselStore;
use crate::backend::postgres::PgConn;
use crate::backend::sqlite::SqliteConn;
use crate::cached_sql::{Arg, CachedSql};
use crate::detached::dispatch;
use crate::error::DbError;
use crate::rate_limit::{
    PgAcquired, PgReserved, reserve_args, rule_args, sqlite_acquire, sqlite_reserve, until_not_busy,
};
use crate::rows::UserRow;
use crate::schema::users;

impl PasswordAttempts for DieselStore {
    async fn reserve_attempt_reading_user(
        &self,
        email: &Email,
        key: &str,
        rules: Vec<RateRule>,
        now: Timestamp,
        hold: Duration,
        patience: Duration,
    ) -> Result<(AttemptDecision, Option<User>), StoreError> {
        let (decision, row) = until_not_busy(now, patience, |now| {
            let (email, key, rules) = (email.as_str().to_owned(), key.to_owned(), rules.clone());
            async move {
                Ok(dispatch!(self, |c, _db|
                    sqlite => c.immediate_transaction::<_, DbError, _>(async |c| {
                        let decision = sqlite_reserve(c, &key, &rules, now, hold).await?;
                        if decision == AttemptDecision::Busy {
                            return Ok((decision, None));
                        }
                        Ok((decision, read_user(c, &email).await?))
                    }).await,
                    postgres => postgres_reserve_reading_user(c, &key, &rules, now, hold, &email).await
                )?)
            }
        })
        .await?;
        // No password will be checked on an account that does not read, so its reservation
        // goes back (else it expires into one counted failure). A row that does not even
        // decode fails the statement's read before the permit is known, and is left to
        // expire the same way.
        let permit = match decision {
            AttemptDecision::Reserved(permit) => Some(permit),
            _ => None,
        };
        Ok((decision, self.user_or_release(row, permit).await?))
    }

    async fn acquire_reading_user(
        &self,
        email: &Email,
        key: &str,
        rules: Vec<RateRule>,
        now: Timestamp,
    ) -> Result<(RateDecision, Option<User>), StoreError> {
        // The bodies run in a task of their own (see `dispatch!`), so they own what they use.
        let (email, key) = (email.as_str().to_owned(), key.to_owned());
        let (decision, row) = dispatch!(self, |c, _db|
            sqlite => c.immediate_transaction::<_, DbError, _>(async |c| {
                let decision = sqlite_acquire(c, &key, &rules, now).await?;
                Ok((decision, read_user(c, &email).await?))
            }).await,
            postgres => postgres_acquire_reading_user(c, &key, &rules, now, &email).await
        )?;
        // The caller fails on an account that does not read, so the allowance goes back. A
        // row that does not even decode fails the PostgreSQL statement's read after its
        // insert committed, and that allowance stays used (it only limits mail).
        let permit = match decision {
            RateDecision::Allowed(permit) => Some(permit),
            RateDecision::Limited { .. } => None,
        };
        Ok((decision, self.user_or_release(row, permit).await?))
    }
}

impl DieselStore {
    /// `row` as a [`User`]; when it does not make one, `permit` is released first (best
    /// effort) and the conversion's error returned.
    async fn user_or_release(&self, row: Option<UserRow>, permit: Option<Permit>) -> Result<Option<User>, StoreError> {
        match row.map(User::try_from).transpose() {
            Ok(user) => Ok(user),
            Err(e) => {
                if let Some(permit) = permit {
                    let _ = self.release(permit).await;
                }
                Err(e.into())
            }
        }
    }
}

/// The row of the account at `email`, if any, in the caller's SQLite transaction.
async fn read_user(c: &mut SqliteConn, email: &str) -> Result<Option<UserRow>, DbError> {
    Ok(users::table.filter(users::email.eq(email)).select(UserRow::as_select()).first(c).await.optional()?)
}

/// The account columns of the joined statements below, named rather than `u.*`: a
/// statement stays prepared on its connection, and a column added by a later migration (run
/// by another instance) would change a `*`'s result type under it, which PostgreSQL refuses
/// for a cached plan.
macro_rules! user_columns {
    () => {
        "u.id, u.name, u.email, u.password_hash, u.profile_picture, u.status, u.email_verified_at, \
         u.created_at, u.updated_at, u.deleted_at, u.roles"
    };
}

/// `portcullis_rate_acquire`'s answer with the account row, when there is one.
#[derive(QueryableByName)]
struct PgAcquiredFor {
    #[diesel(embed)]
    acquired: PgAcquired,
    /// `None` when the join found no account.
    #[diesel(embed)]
    user: Option<UserRow>,
}

/// [`PasswordAttempts::acquire_reading_user`] in one statement, prepared once per
/// connection: the acquire function joined with the account's row.
async fn postgres_acquire_reading_user(
    c: &mut PgConn,
    key: &str,
    rules: &[RateRule],
    now: Timestamp,
    email: &str,
) -> Result<(RateDecision, Option<UserRow>), DbError> {
    const SQL: &str = concat!(
        "SELECT r.permit, r.retry_after_ms, ",
        user_columns!(),
        " FROM portcullis_rate_acquire(?, ?, ?, ?) AS r LEFT JOIN users AS u ON u.email = ?"
    );
    let mut args = rule_args(key, rules, now);
    args.push(Arg::Text(email));
    let row: PgAcquiredFor = CachedSql::new(SQL, args).get_result(c).await?;
    Ok((row.acquired.decision()?, row.user))
}

/// `portcullis_attempt_reserve`'s answer with the account row, when there is one.
#[derive(QueryableByName)]
struct PgReservedFor {
    #[diesel(embed)]
    reserved: PgReserved,
    /// `None` when the join found no account: the row's columns are all NULL.
    #[diesel(embed)]
    user: Option<UserRow>,
}

/// One try in one statement, prepared once per connection: the reservation function joined
/// with the account's row. The function runs once (a function scan), whether or not the
/// address has an account.
async fn postgres_reserve_reading_user(
    c: &mut PgConn,
    key: &str,
    rules: &[RateRule],
    now: Timestamp,
    hold: Duration,
    email: &str,
) -> Result<(AttemptDecision, Option<UserRow>), DbError> {
    const SQL: &str = concat!(
        "SELECT r.permit, r.retry_after_ms, r.busy, ",
        user_columns!(),
        " FROM portcullis_attempt_reserve(?, ?, ?, ?, ?) AS r LEFT JOIN users AS u ON u.email = ?"
    );
    let mut args = reserve_args(key, rules, now, hold);
    args.push(Arg::Text(email));
    let row: PgReservedFor = CachedSql::new(SQL, args).get_result(c).await?;
    Ok((row.reserved.decision()?, row.user))
}
