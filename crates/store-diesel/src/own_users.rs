//! An embedder's own user table on PostgreSQL, with every other table of ours.
//!
//! The embedder implements [`PgUserTable`]: three reads and the writes of the user changes
//! ([`is_user_change`]), on its own table. The store then runs them on its own connections, and a commit's user changes inside the same
//! transaction as the rest of the commit, so a registration (user, code, audit entry, mail)
//! stays all-or-nothing. [`OwnUsers::into_store`] gives the complete store;
//! [`migrate_with_user_table`] points our tables' `user_id` references at the embedder's table.

use std::future::Future;
use std::sync::Arc;

use diesel::prelude::*;
/// The connection a [`PgUserTable`] is handed (diesel-async's; write your queries with the
/// same diesel and diesel-async versions as this crate).
pub use diesel_async::AsyncPgConnection;
use diesel_async::RunQueryDsl;
use portcullis_domain::model::{
    Email, Page, RefreshHit, SecretDigest, Session, SessionId, Timestamp, User, UserId, UserQuery,
};
use portcullis_domain::ports::{
    Change, Committed, ComposedStore, SessionRepository, StoreError, UnitOfWork, UserRepository,
};

use crate::DieselStore;
use crate::backend::postgres::PgConn;
use crate::detached::dispatch;
use crate::error::DbError;
use crate::pool::DbPool;
use crate::rows::{SessionRow, SpentRefreshRow};
use crate::schema::{sessions, spent_refresh_tokens};
use crate::sql_types::DbUuid;
use crate::unit_of_work::{UserWrites, apply_all_pg};

/// What an embedder's [`PgUserTable`] can report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UserTableError {
    /// [`Change::InsertUser`] hit an address that is taken (the commit fails as a whole).
    #[error("email address already registered")]
    DuplicateEmail,
    /// A statement failed; its classification (unavailable or not) is the store's.
    #[error("user table query failed")]
    Query(#[from] diesel::result::Error),
    /// A stored row does not make a valid [`User`] (an address that does not parse, ...).
    #[error("stored user is invalid: {0}")]
    Invalid(String),
    /// A guarded change found its row changed ([`Change::DeleteUser`] or
    /// [`Change::RestoreUser`] of an account no longer deleted at the given time, a
    /// [`Change::ChangeEmail`] of an account no longer at `from`, or deleted, or to an
    /// address another account has): the commit fails as a whole.
    #[error("the user row changed since it was read")]
    Conflict,
}

impl From<UserTableError> for DbError {
    fn from(e: UserTableError) -> Self {
        match e {
            UserTableError::DuplicateEmail => DbError::DuplicateEmail,
            UserTableError::Query(e) => DbError::Query(e),
            UserTableError::Invalid(what) => DbError::Corrupt(what),
            UserTableError::Conflict => DbError::Conflict,
        }
    }
}

/// An embedder's own user table, read and written on the store's PostgreSQL connections.
///
/// Each method gets the connection the store is using, inside the transaction when there is
/// one: write plain diesel queries on it and never commit or roll back. The rules are the
/// [`UserRepository`] port's and, for [`PgUserTable::apply`], those of each user [`Change`];
/// `portcullis_testing::store_contract_tests!` run against [`OwnUsers::into_store`] checks
/// them (`examples/own-user-table` does).
pub trait PgUserTable: Send + Sync + 'static {
    /// The account with this normalised email, soft-deleted ones included.
    fn user_by_email(
        &self,
        conn: &mut AsyncPgConnection,
        email: &Email,
    ) -> impl Future<Output = Result<Option<User>, UserTableError>> + Send;

    /// The account with this id, soft-deleted ones included.
    fn user_by_id(
        &self,
        conn: &mut AsyncPgConnection,
        id: UserId,
    ) -> impl Future<Output = Result<Option<User>, UserTableError>> + Send;

    /// A page of accounts, as [`UserRepository::search_users`].
    fn search_users(
        &self,
        conn: &mut AsyncPgConnection,
        query: &UserQuery,
    ) -> impl Future<Output = Result<Page<User>, UserTableError>> + Send;

    /// Applies one user change (only those for which [`is_user_change`] holds), as its
    /// [`Change`] variant documents. An [`Change::InsertUser`] on a taken address answers
    /// [`UserTableError::DuplicateEmail`]; a [`Change::ChangeEmail`] to one answers
    /// [`UserTableError::Conflict`].
    fn apply(
        &self,
        conn: &mut AsyncPgConnection,
        change: &Change,
    ) -> impl Future<Output = Result<(), UserTableError>> + Send;
}

/// Whether `change` writes a user (and so goes to a [`PgUserTable`]) rather than one of our
/// other tables. Exhaustive on purpose: a new kind of write must be sorted here.
pub fn is_user_change(change: &Change) -> bool {
    match change {
        Change::InsertUser(_)
        | Change::MarkEmailVerified { .. }
        | Change::SetPassword { .. }
        | Change::RehashPassword { .. }
        | Change::SetStatus { .. }
        | Change::SetDeleted { .. }
        | Change::DeleteUser { .. }
        | Change::RestoreUser { .. }
        | Change::SetRoles { .. }
        | Change::UpdateProfile { .. }
        | Change::ChangeEmail { .. } => true,
        Change::ReplaceCode(_)
        | Change::ConsumeCode { .. }
        | Change::DiscardCodes { .. }
        | Change::InsertSession(_)
        | Change::SetAlertToken { .. }
        | Change::ConsumeAlertToken { .. }
        | Change::RotateRefreshToken { .. }
        | Change::RevokeSession { .. }
        | Change::TouchSession { .. }
        | Change::RevokeUserSessions { .. }
        | Change::AppendAudit(_)
        | Change::InsertNotification(_)
        | Change::EnqueueMail(_)
        | Change::ClearFailures { .. }
        | Change::ReleasePermit(_)
        | Change::InsertCode(_)
        | Change::InsertFactor(_)
        | Change::ConfirmFactor { .. }
        | Change::ActivateFactor { .. }
        | Change::UseTotpStep { .. }
        | Change::DeleteFactor { .. }
        | Change::DeleteUserFactors { .. }
        | Change::ReplaceRecoveryCodes { .. }
        | Change::SpendRecoveryCode { .. }
        | Change::ExpectNoSecondFactor { .. }
        | Change::InsertCeremony(_)
        | Change::InsertPasskey(_)
        | Change::UsePasskey { .. }
        | Change::DisablePasskey { .. }
        | Change::EraseAccountData { .. }
        | Change::StartEmailChange(_)
        | Change::ConfirmEmailChange { .. }
        | Change::RevertEmailChange { .. } => false,
    }
}

/// A commit's user changes, sent to the embedder's table.
struct TableWrites<'t, T>(&'t T);

impl<T: PgUserTable> UserWrites for TableWrites<'_, T> {
    async fn apply_user_change(&self, c: &mut PgConn, change: &Change) -> Result<bool, DbError> {
        if !is_user_change(change) {
            return Ok(false);
        }
        self.0.apply(c, change).await?;
        Ok(true)
    }
}

/// The writer, the user reads and the session reads (which need the owner of a session) of a
/// store whose users live in an embedder's table; see [`OwnUsers::into_store`] for the rest.
pub struct OwnUsers<T> {
    store: DieselStore,
    table: Arc<T>,
}

impl<T> Clone for OwnUsers<T> {
    fn clone(&self) -> Self {
        Self { store: self.store.clone(), table: Arc::clone(&self.table) }
    }
}

impl<T> std::fmt::Debug for OwnUsers<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnUsers").field("store", &self.store).finish_non_exhaustive()
    }
}

/// Every store port, with users in the embedder's table ([`OwnUsers`] in the writer, user and
/// session slots) and everything else in ours ([`DieselStore`]).
pub type OwnUsersStore<T> = ComposedStore<
    OwnUsers<T>,
    OwnUsers<T>,
    DieselStore,
    OwnUsers<T>,
    DieselStore,
    DieselStore,
    DieselStore,
    DieselStore,
    DieselStore,
    DieselStore,
>;

impl<T: PgUserTable> OwnUsers<T> {
    /// Users in `table`, on `store`'s connections.
    ///
    /// # Errors
    /// `Other` when `store` is not on PostgreSQL (the embedder's table is read with
    /// PostgreSQL connections).
    pub fn new(store: DieselStore, table: T) -> Result<Self, StoreError> {
        if !matches!(store.pool, DbPool::Postgres(_)) {
            return Err(DbError::Config("an own user table needs PostgreSQL".into()).into());
        }
        Ok(Self { store, table: Arc::new(table) })
    }

    /// The complete store: commits, user reads and session reads through this, the rest on
    /// the [`DieselStore`].
    pub fn into_store(self) -> OwnUsersStore<T> {
        let store = self.store.clone();
        ComposedStore::new(store).writes(self.clone()).users(self.clone()).sessions(self)
    }
}

/// Runs `$body` on a PostgreSQL connection of `$own`'s store (in a task, within the store's
/// budgets, like every operation of [`DieselStore`]) with `$table` bound to the embedder's
/// table.
macro_rules! on_pg {
    ($own:expr, |$conn:ident, $table:ident| $body:expr) => {{
        let table = Arc::clone(&$own.table);
        dispatch!($own.store, |conn, _db|
            sqlite => {
                let _ = conn;
                Err(DbError::Internal("an own user table on SQLite"))
            },
            postgres => {
                let $table: &T = &table;
                let $conn = conn;
                $body
            }
        )
    }};
}

impl<T: PgUserTable> UnitOfWork for OwnUsers<T> {
    async fn commit(&self, changes: Vec<Change>) -> Result<Committed, StoreError> {
        if changes.is_empty() {
            return Ok(Committed::default());
        }
        Ok(on_pg!(self, |conn, table| {
            ::diesel_async::AsyncConnection::transaction::<_, DbError, _>(conn, async |c| {
                apply_all_pg(c, &changes, &TableWrites(table)).await
            })
            .await
        })?)
    }
}

/// Deleted accounts read per page by [`OwnUsers`]' `deleted_before`.
const DELETED_PAGE: u32 = 500;

impl<T: PgUserTable> UserRepository for OwnUsers<T> {
    /// Through the table's search (no method of its own, so embedders' tables need none):
    /// every soft-deleted account is read, then the oldest deletions kept. The purge job
    /// reads it every ten minutes; tables with very many deleted accounts pay for that.
    async fn deleted_before(&self, before: Timestamp, limit: u32) -> Result<Vec<User>, StoreError> {
        let mut found = Vec::new();
        let mut offset = 0;
        loop {
            let query = UserQuery {
                text: None,
                status: Some(portcullis_domain::model::UserStatusFilter::Deleted),
                limit: DELETED_PAGE,
                offset,
            };
            let page = self.search_users(query).await?;
            let read = page.items.len();
            offset += read as u64;
            found.extend(page.items.into_iter().filter(|u| u.deleted_at.is_some_and(|at| at < before)));
            if read < DELETED_PAGE as usize {
                break;
            }
        }
        found.sort_by_key(|u| (u.deleted_at, u.id));
        found.truncate(limit as usize);
        Ok(found)
    }

    async fn user_by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        let email = email.clone();
        Ok(on_pg!(self, |conn, table| Ok(table.user_by_email(conn, &email).await?))?)
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        Ok(on_pg!(self, |conn, table| Ok(table.user_by_id(conn, id).await?))?)
    }

    async fn search_users(&self, query: UserQuery) -> Result<Page<User>, StoreError> {
        // One snapshot, so the total matches the page, as on our own table.
        Ok(on_pg!(self, |conn, table| {
            conn.build_transaction()
                .read_only()
                .repeatable_read()
                .run(async |c| Ok::<_, DbError>(table.search_users(c, &query).await?))
                .await
        })?)
    }
}

/// A session row and its owner, read from the embedder's table on the same connection; a
/// session whose owner is missing is treated as absent, like the inner join on our table.
async fn with_owner<T: PgUserTable>(
    c: &mut PgConn,
    table: &T,
    row: Option<SessionRow>,
) -> Result<Option<(Session, User)>, DbError> {
    let Some(row) = row else { return Ok(None) };
    let session = Session::try_from(row)?;
    Ok(table.user_by_id(c, session.user_id).await?.map(|user| (session, user)))
}

impl<T: PgUserTable> SessionRepository for OwnUsers<T> {
    async fn session_with_user(&self, id: SessionId) -> Result<Option<(Session, User)>, StoreError> {
        Ok(on_pg!(self, |conn, table| {
            let row = sessions::table
                .find(DbUuid::from(id))
                .select(SessionRow::as_select())
                .first::<SessionRow>(conn)
                .await
                .optional()?;
            with_owner(conn, table, row).await
        })?)
    }

    async fn live_sessions(&self, user_id: UserId, now: Timestamp) -> Result<Vec<Session>, StoreError> {
        self.store.live_sessions(user_id, now).await
    }

    async fn all_sessions(&self, user_id: UserId) -> Result<Vec<Session>, StoreError> {
        self.store.all_sessions(user_id).await
    }

    async fn session_by_refresh(
        &self,
        digest: SecretDigest,
    ) -> Result<Option<(Session, User, RefreshHit)>, StoreError> {
        let digest = digest.as_bytes().to_vec();
        // As on our table: the current token, then the spent ones, in one snapshot.
        Ok(on_pg!(self, |conn, table| {
            conn.build_transaction()
                .read_only()
                .repeatable_read()
                .run(async |c| {
                    let current = sessions::table
                        .filter(sessions::refresh_token_hash.eq(&digest))
                        .select(SessionRow::as_select())
                        .first::<SessionRow>(c)
                        .await
                        .optional()?;
                    if current.is_some() {
                        let found = with_owner(c, table, current).await?;
                        return Ok(found.map(|(session, user)| (session, user, RefreshHit::Current)));
                    }
                    let spent: Option<(SpentRefreshRow, SessionRow)> = spent_refresh_tokens::table
                        .inner_join(sessions::table)
                        .filter(spent_refresh_tokens::digest.eq(&digest))
                        .select((SpentRefreshRow::as_select(), SessionRow::as_select()))
                        .first(c)
                        .await
                        .optional()?;
                    let Some((spent, session)) = spent else { return Ok(None) };
                    let found = with_owner(c, table, Some(session)).await?;
                    Ok::<_, DbError>(found.map(|(session, user)| (session, user, RefreshHit::from(spent))))
                })
                .await
        })?)
    }

    async fn session_by_alert(&self, digest: SecretDigest) -> Result<Option<(Session, User)>, StoreError> {
        let digest = digest.as_bytes().to_vec();
        Ok(on_pg!(self, |conn, table| {
            let row = sessions::table
                .filter(sessions::alert_token_hash.eq(digest))
                .select(SessionRow::as_select())
                .first::<SessionRow>(conn)
                .await
                .optional()?;
            with_owner(conn, table, row).await
        })?)
    }

    async fn purge_ended_sessions(&self, before: Timestamp) -> Result<u64, StoreError> {
        self.store.purge_ended_sessions(before).await
    }
}

/// Where our tables' `user_id` columns point when users live in an embedder's table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserTableRef {
    table: String,
    key: String,
}

/// A [`UserTableRef`] that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not a plain SQL identifier (letters, digits and `_`, optionally `schema.`)")]
pub struct BadIdentifier(String);

impl UserTableRef {
    /// The table (`accounts` or `app.accounts`) and its `uuid` key column (`id`). They are
    /// quoted as given, so write them as the catalogue stores them (lower case, unless the
    /// table was created with a quoted mixed-case name).
    ///
    /// # Errors
    /// When either is not a plain identifier: they are written into DDL, so nothing that would
    /// need quoting rules is accepted.
    pub fn new(table: &str, key: &str) -> Result<Self, BadIdentifier> {
        let plain = |s: &str| {
            let mut chars = s.chars();
            chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        let parts: Vec<&str> = table.split('.').collect();
        if parts.len() > 2 || !parts.iter().all(|p| plain(p)) {
            return Err(BadIdentifier(table.to_owned()));
        }
        if !plain(key) {
            return Err(BadIdentifier(key.to_owned()));
        }
        Ok(Self { table: table.to_owned(), key: key.to_owned() })
    }

    /// The table, quoted for SQL.
    fn quoted_table(&self) -> String {
        self.table.split('.').map(|p| format!("\"{p}\"")).collect::<Vec<_>>().join(".")
    }

    /// Re-points every foreign key that references our `users` table at this one, keeping
    /// each constraint's name and `ON DELETE CASCADE`. Finds them in the catalogue, so the
    /// references added by later migrations move too; idempotent (once moved, none is left).
    pub(crate) fn repoint_sql(&self) -> String {
        format!(
            r#"DO $$
DECLARE r record;
BEGIN
  FOR r IN
    SELECT c.conrelid::regclass AS tbl, c.conname, a.attname
    FROM pg_constraint c
    JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
    WHERE c.contype = 'f' AND c.confrelid = 'users'::regclass
  LOOP
    EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I, ADD CONSTRAINT %I FOREIGN KEY (%I) REFERENCES {table} ("{key}") ON DELETE CASCADE',
                   r.tbl, r.conname, r.conname, r.attname);
  END LOOP;
END $$"#,
            table = self.quoted_table(),
            key = self.key,
        )
    }
}

/// Applies our migrations to `url`'s PostgreSQL database, then points every foreign key that
/// references our `users` table (those of sessions, codes, notifications, second factors,
/// passkeys, ceremonies and address changes) at `users` (the embedder's table) instead, under the migration lock, so instances starting together
/// do it once. Our `users` table stays, empty. The audit log has no such key: its entries keep
/// a deleted account's id.
///
/// Call it on every start, after the embedder's own migrations (its table must exist) and
/// before [`DieselStore::connect`], which then finds nothing to migrate: a new migration of
/// ours applied by `connect` instead would reference our empty table until the next call.
/// Existing rows of ours must reference ids present in the embedder's table. Returns how many
/// of our migrations ran.
///
/// # Errors
/// As [`crate::migrate`]; `Other` for a SQLite URL.
pub async fn migrate_with_user_table(url: &str, users: &UserTableRef) -> Result<usize, StoreError> {
    Ok(crate::pool::migrate_then(url, Some(users.repoint_sql())).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_refs_take_plain_identifiers_only() {
        assert!(UserTableRef::new("accounts", "id").is_ok());
        assert!(UserTableRef::new("app.accounts", "account_id").is_ok());
        for (table, key) in [("acc ounts", "id"), ("a.b.c", "id"), ("accounts", "id\""), ("", "id"), ("1a", "id")] {
            assert!(UserTableRef::new(table, key).is_err(), "{table}.{key}");
        }
    }

    #[test]
    fn the_repoint_names_the_quoted_table_and_key() {
        let sql = UserTableRef::new("app.accounts", "account_id").unwrap().repoint_sql();
        assert!(sql.contains(r#"REFERENCES "app"."accounts" ("account_id") ON DELETE CASCADE"#), "{sql}");
    }

    #[test]
    fn user_changes_are_the_ones_that_write_the_users_table() {
        let user = portcullis_domain::model::UserId::new_v7();
        let at = Timestamp::from_unix_millis(0);
        assert!(is_user_change(&Change::MarkEmailVerified { user_id: user, at }));
        assert!(!is_user_change(&Change::RevokeUserSessions { user_id: user, except: None, at }));
        let address = |raw| portcullis_domain::model::Email::parse(raw).unwrap();
        let (from, to) = (address("old@example.com"), address("new@example.com"));
        assert!(is_user_change(&Change::ChangeEmail { user_id: user, from, to, at }), "it writes the address");
        let change = portcullis_domain::model::EmailChangeId::new_v7();
        assert!(!is_user_change(&Change::RevertEmailChange { id: change, user_id: user, at }));
    }
}
