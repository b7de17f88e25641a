//! Portcullis with its users in the embedding application's own table.
//!
//! The application already has an `accounts` table, with its own column names and columns
//! Portcullis knows nothing about (`plan`). It keeps it: [`Accounts`] tells the store how to
//! read and write Portcullis users there (four diesel queries), and [`connect`] wires the
//! store so that everything else (sessions, codes, audit log, notifications, rate limits, the
//! mail outbox) stays in Portcullis's own tables of the same database, with their `user_id`
//! columns referencing `accounts`. A commit that writes a user and other rows (a registration:
//! account, code, audit entry, mail) runs in one transaction across both.

use diesel::dsl::count_star;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as QueryError};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use portcullis_domain::model::{
    AccountStatus, Email, Page, PasswordHash, Role, Roles, Timestamp, User, UserId, UserName, UserQuery,
    UserStatusFilter,
};
use portcullis_domain::ports::{Change, StoreError};
use portcullis_store_diesel::own_users::{
    OwnUsers, OwnUsersStore, PgUserTable, UserTableError, UserTableRef, migrate_with_user_table,
};
use portcullis_store_diesel::{DbConfig, DieselStore};
use time::OffsetDateTime;
use uuid::Uuid;

/// The application's own migration: its `accounts` table, which existed before Portcullis.
pub const ACCOUNTS_DDL: &str = "
CREATE TABLE IF NOT EXISTS accounts (
    account_id UUID PRIMARY KEY,
    mail TEXT NOT NULL CONSTRAINT accounts_mail_key UNIQUE,
    display_name TEXT NOT NULL,
    password_phc TEXT NOT NULL,
    avatar_url TEXT,
    state TEXT NOT NULL,
    roles TEXT[] NOT NULL,
    mail_verified_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ,
    -- The application's own data: Portcullis never reads or writes it.
    plan TEXT NOT NULL DEFAULT 'free'
)";

/// The application's schema, as diesel sees it.
mod schema {
    diesel::table! {
        /// The application's accounts.
        accounts (account_id) {
            account_id -> Uuid,
            mail -> Text,
            display_name -> Text,
            password_phc -> Text,
            avatar_url -> Nullable<Text>,
            state -> Text,
            roles -> Array<Text>,
            mail_verified_at -> Nullable<Timestamptz>,
            created_at -> Timestamptz,
            updated_at -> Timestamptz,
            deleted_at -> Nullable<Timestamptz>,
            plan -> Text,
        }
    }
}

use schema::accounts;

diesel::define_sql_function! {
    /// SQL `lower`.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// The columns Portcullis reads and writes (`plan` is left to the application; a new account
/// takes its default).
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = accounts, check_for_backend(diesel::pg::Pg))]
struct AccountRow {
    account_id: Uuid,
    mail: String,
    display_name: String,
    password_phc: String,
    avatar_url: Option<String>,
    state: String,
    roles: Vec<String>,
    mail_verified_at: Option<OffsetDateTime>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    deleted_at: Option<OffsetDateTime>,
}

fn invalid(what: impl std::fmt::Display) -> UserTableError {
    UserTableError::Invalid(what.to_string())
}

impl TryFrom<AccountRow> for User {
    type Error = UserTableError;
    fn try_from(r: AccountRow) -> Result<Self, UserTableError> {
        let roles = r
            .roles
            .iter()
            .map(|name| Role::parse(name).ok_or_else(|| invalid(format!("role {name:?}"))))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(User {
            id: UserId::from_uuid(r.account_id),
            name: UserName::parse(&r.display_name).map_err(invalid)?,
            email: Email::parse(&r.mail).map_err(invalid)?,
            password_hash: PasswordHash::new(r.password_phc),
            profile_picture: r.avatar_url,
            status: AccountStatus::parse(&r.state).ok_or_else(|| invalid(format!("state {:?}", r.state)))?,
            email_verified_at: r.mail_verified_at.map(Timestamp::from_datetime),
            created_at: Timestamp::from_datetime(r.created_at),
            updated_at: Timestamp::from_datetime(r.updated_at),
            deleted_at: r.deleted_at.map(Timestamp::from_datetime),
            roles: Roles::new(roles),
        })
    }
}

impl From<&User> for AccountRow {
    fn from(u: &User) -> Self {
        Self {
            account_id: u.id.as_uuid(),
            mail: u.email.as_str().to_owned(),
            display_name: u.name.as_str().to_owned(),
            password_phc: u.password_hash.as_str().to_owned(),
            avatar_url: u.profile_picture.clone(),
            state: u.status.as_str().to_owned(),
            roles: role_names(&u.roles),
            mail_verified_at: u.email_verified_at.map(Timestamp::to_datetime),
            created_at: u.created_at.to_datetime(),
            updated_at: u.updated_at.to_datetime(),
            deleted_at: u.deleted_at.map(Timestamp::to_datetime),
        }
    }
}

fn role_names(roles: &Roles) -> Vec<String> {
    roles.names().into_iter().map(str::to_owned).collect()
}

/// The `LIKE` pattern for "contains `text`", lower-cased, with `%`, `_` and `\` taken literally.
fn contains(text: &str) -> String {
    let mut pattern = String::from("%");
    for ch in text.to_lowercase().chars() {
        if matches!(ch, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(ch);
    }
    pattern.push('%');
    pattern
}

/// Portcullis users in the `accounts` table.
#[derive(Clone, Copy, Debug, Default)]
pub struct Accounts;

impl PgUserTable for Accounts {
    async fn user_by_email(&self, conn: &mut AsyncPgConnection, email: &Email) -> Result<Option<User>, UserTableError> {
        let row = accounts::table
            .filter(accounts::mail.eq(email.as_str()))
            .select(AccountRow::as_select())
            .first(conn)
            .await
            .optional()?;
        row.map(User::try_from).transpose()
    }

    async fn user_by_id(&self, conn: &mut AsyncPgConnection, id: UserId) -> Result<Option<User>, UserTableError> {
        let row = accounts::table.find(id.as_uuid()).select(AccountRow::as_select()).first(conn).await.optional()?;
        row.map(User::try_from).transpose()
    }

    async fn search_users(
        &self,
        conn: &mut AsyncPgConnection,
        query: &UserQuery,
    ) -> Result<Page<User>, UserTableError> {
        let pattern = query.text.as_deref().map(contains);
        let matching = || {
            let mut q = accounts::table.into_boxed();
            if let Some(p) = &pattern {
                q = q.filter(
                    accounts::mail
                        .like(p.clone())
                        .escape('\\')
                        .or(lower(accounts::display_name).like(p.clone()).escape('\\')),
                );
            }
            match query.status {
                None => q,
                Some(UserStatusFilter::Deleted) => q.filter(accounts::deleted_at.is_not_null()),
                Some(UserStatusFilter::Status(s)) => {
                    q.filter(accounts::deleted_at.is_null()).filter(accounts::state.eq(s.as_str()))
                }
            }
        };
        let rows: Vec<AccountRow> = matching()
            .order((accounts::created_at.asc(), accounts::account_id.asc()))
            .limit(i64::from(query.limit))
            .offset(i64::try_from(query.offset).unwrap_or(i64::MAX))
            .select(AccountRow::as_select())
            .load(conn)
            .await?;
        let total: i64 = matching().select(count_star()).get_result(conn).await?;
        Ok(Page {
            items: rows.into_iter().map(User::try_from).collect::<Result<_, _>>()?,
            total_count: u64::try_from(total).unwrap_or(0),
        })
    }

    async fn apply(&self, conn: &mut AsyncPgConnection, change: &Change) -> Result<(), UserTableError> {
        let one = |id: &UserId| accounts::table.find(id.as_uuid());
        match change {
            Change::InsertUser(user) => {
                return match diesel::insert_into(accounts::table).values(AccountRow::from(user)).execute(conn).await {
                    Err(QueryError::DatabaseError(DatabaseErrorKind::UniqueViolation, info))
                        if info.constraint_name() == Some("accounts_mail_key") =>
                    {
                        Err(UserTableError::DuplicateEmail)
                    }
                    other => other.map(drop).map_err(UserTableError::from),
                };
            }
            Change::MarkEmailVerified { user_id, at } => {
                diesel::update(one(user_id))
                    .set((
                        accounts::mail_verified_at.eq(Some(at.to_datetime())),
                        accounts::updated_at.eq(at.to_datetime()),
                    ))
                    .execute(conn)
                    .await?;
            }
            Change::SetPassword { user_id, hash, at } => {
                diesel::update(one(user_id))
                    .set((accounts::password_phc.eq(hash.as_str()), accounts::updated_at.eq(at.to_datetime())))
                    .execute(conn)
                    .await?;
            }
            Change::RehashPassword { user_id, previous, hash, at } => {
                diesel::update(one(user_id).filter(accounts::password_phc.eq(previous.as_str())))
                    .set((accounts::password_phc.eq(hash.as_str()), accounts::updated_at.eq(at.to_datetime())))
                    .execute(conn)
                    .await?;
            }
            Change::SetStatus { user_id, status, at } => {
                diesel::update(one(user_id))
                    .set((accounts::state.eq(status.as_str()), accounts::updated_at.eq(at.to_datetime())))
                    .execute(conn)
                    .await?;
            }
            Change::SetDeleted { user_id, deleted_at, at } => {
                diesel::update(one(user_id))
                    .set((
                        accounts::deleted_at.eq(deleted_at.map(Timestamp::to_datetime)),
                        accounts::updated_at.eq(at.to_datetime()),
                    ))
                    .execute(conn)
                    .await?;
            }
            Change::DeleteUser { user_id, deleted_at } => {
                // Guarded, as the change says: only while deleted at exactly that time.
                let deleted =
                    diesel::delete(one(user_id).filter(accounts::deleted_at.eq(Some(deleted_at.to_datetime()))))
                        .execute(conn)
                        .await?;
                if deleted == 0 {
                    return Err(UserTableError::Conflict);
                }
            }
            Change::RestoreUser { user_id, deleted_at, at } => {
                let restored =
                    diesel::update(one(user_id).filter(accounts::deleted_at.eq(Some(deleted_at.to_datetime()))))
                        .set((
                            accounts::deleted_at.eq(None::<time::OffsetDateTime>),
                            accounts::updated_at.eq(at.to_datetime()),
                        ))
                        .execute(conn)
                        .await?;
                if restored == 0 {
                    return Err(UserTableError::Conflict);
                }
            }
            Change::ChangeEmail { user_id, from, to, at } => {
                // Guarded, as the change says: only a live account still at `from` moves, and
                // an address another account has (the unique constraint) is a conflict too.
                let moved = diesel::update(
                    one(user_id).filter(accounts::mail.eq(from.as_str())).filter(accounts::deleted_at.is_null()),
                )
                .set((
                    accounts::mail.eq(to.as_str()),
                    accounts::mail_verified_at.eq(Some(at.to_datetime())),
                    accounts::updated_at.eq(at.to_datetime()),
                ))
                .execute(conn)
                .await;
                match moved {
                    Ok(0) => return Err(UserTableError::Conflict),
                    Ok(_) => {}
                    Err(QueryError::DatabaseError(DatabaseErrorKind::UniqueViolation, info))
                        if info.constraint_name() == Some("accounts_mail_key") =>
                    {
                        return Err(UserTableError::Conflict);
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Change::SetRoles { user_id, roles, at } => {
                diesel::update(one(user_id))
                    .set((accounts::roles.eq(role_names(roles)), accounts::updated_at.eq(at.to_datetime())))
                    .execute(conn)
                    .await?;
            }
            Change::UpdateProfile { user_id, name, profile_picture, at } => {
                diesel::update(one(user_id))
                    .set((
                        accounts::updated_at.eq(at.to_datetime()),
                        name.as_ref().map(|n| accounts::display_name.eq(n.as_str().to_owned())),
                        profile_picture.clone().map(|p| accounts::avatar_url.eq(p)),
                    ))
                    .execute(conn)
                    .await?;
            }
            // The store sends only user changes (`own_users::is_user_change`).
            other => return Err(invalid(format!("not a user change: {other:?}"))),
        }
        Ok(())
    }
}

/// Why [`connect`] failed.
pub type ConnectError = Box<dyn std::error::Error + Send + Sync>;

/// Runs the application's migration and Portcullis's (whose references then point at
/// `accounts`), and opens the store.
///
/// # Errors
/// The first step that fails.
pub async fn connect(url: &str) -> Result<OwnUsersStore<Accounts>, ConnectError> {
    let mut conn = AsyncPgConnection::establish(url).await?;
    conn.batch_execute(ACCOUNTS_DDL).await?;
    drop(conn);
    migrate_with_user_table(url, &UserTableRef::new("accounts", "account_id")?).await?;
    let store: DieselStore = DieselStore::connect(&DbConfig::new(url)).await?;
    let own: Result<_, StoreError> = OwnUsers::new(store, Accounts);
    Ok(own?.into_store())
}
