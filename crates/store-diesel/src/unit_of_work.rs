//! [`UnitOfWork`]: every [`Change`] of a commit in one write transaction, or none.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use portcullis_domain::ports::{Change, StoreError, UnitOfWork};

use crate::DieselStore;
use futures_util::future::try_join_all;

use crate::backend::postgres::PgConn;
use crate::detached::dispatch;
use crate::error::{DbError, is_email_taken};
use crate::rows::{CodeRow, MailRow, NewAuditRow, NotificationRow, SessionRow, SpentRefreshRow, UserRow, roles_to_db};
use crate::schema::{
    audit_log, mail_outbox, notifications, rate_events, sessions, spent_refresh_tokens, users,
    verification_codes as codes,
};
use crate::sql_types::{DbJson, DbTime, DbUuid};

/// A [`Change`] already encoded into rows, so the transaction holds the write lock only for
/// the statements themselves.
enum Write {
    User(UserRow),
    ReplaceCode(CodeRow),
    ConsumeCode { id: DbUuid, at: DbTime },
    MarkEmailVerified { user_id: DbUuid, at: DbTime },
    Session(SessionRow),
    AlertToken { session_id: DbUuid, digest: Vec<u8>, expires_at: DbTime },
    ConsumeAlertToken { session_id: DbUuid, digest: Vec<u8> },
    RotateRefresh { current: Vec<u8>, next: Vec<u8>, spent: SpentRefreshRow },
    RevokeSession { session_id: DbUuid, at: DbTime },
    TouchSession { session_id: DbUuid, at: DbTime },
    RevokeUserSessions { user_id: DbUuid, except: Option<DbUuid>, at: DbTime },
    Password { user_id: DbUuid, hash: String, at: DbTime },
    Rehash { user_id: DbUuid, previous: String, hash: String, at: DbTime },
    Status { user_id: DbUuid, status: &'static str, at: DbTime },
    Deleted { user_id: DbUuid, deleted_at: Option<DbTime>, at: DbTime },
    Roles { user_id: DbUuid, roles: DbJson, at: DbTime },
    Profile { user_id: DbUuid, name: Option<String>, picture: Option<Option<String>>, at: DbTime },
    Audit(NewAuditRow),
    Notification(NotificationRow),
    Mail(MailRow),
    ClearFailures { key: String, at: DbTime },
}

impl TryFrom<&Change> for Write {
    type Error = DbError;
    fn try_from(change: &Change) -> Result<Self, DbError> {
        Ok(match change {
            Change::InsertUser(u) => Self::User(u.try_into()?),
            Change::ReplaceCode(code) => Self::ReplaceCode(code.into()),
            Change::ConsumeCode { id, at } => Self::ConsumeCode { id: (*id).into(), at: DbTime(*at) },
            Change::MarkEmailVerified { user_id, at } => {
                Self::MarkEmailVerified { user_id: (*user_id).into(), at: DbTime(*at) }
            }
            Change::InsertSession(s) => Self::Session(s.try_into()?),
            Change::SetAlertToken { session_id, digest, expires_at } => Self::AlertToken {
                session_id: (*session_id).into(),
                digest: digest.as_bytes().to_vec(),
                expires_at: DbTime(*expires_at),
            },
            Change::ConsumeAlertToken { session_id, digest } => {
                Self::ConsumeAlertToken { session_id: (*session_id).into(), digest: digest.as_bytes().to_vec() }
            }
            Change::RotateRefreshToken { session_id, current, next, successor, at } => Self::RotateRefresh {
                current: current.as_bytes().to_vec(),
                next: next.as_bytes().to_vec(),
                spent: SpentRefreshRow {
                    digest: current.as_bytes().to_vec(),
                    session_id: (*session_id).into(),
                    spent_at: DbTime(*at),
                    successor: successor.clone(),
                },
            },
            Change::RevokeSession { session_id, at } => {
                Self::RevokeSession { session_id: (*session_id).into(), at: DbTime(*at) }
            }
            Change::TouchSession { session_id, at } => {
                Self::TouchSession { session_id: (*session_id).into(), at: DbTime(*at) }
            }
            Change::RevokeUserSessions { user_id, except, at } => {
                Self::RevokeUserSessions { user_id: (*user_id).into(), except: except.map(Into::into), at: DbTime(*at) }
            }
            Change::SetPassword { user_id, hash, at } => {
                Self::Password { user_id: (*user_id).into(), hash: hash.as_str().to_owned(), at: DbTime(*at) }
            }
            Change::RehashPassword { user_id, previous, hash, at } => Self::Rehash {
                user_id: (*user_id).into(),
                previous: previous.as_str().to_owned(),
                hash: hash.as_str().to_owned(),
                at: DbTime(*at),
            },
            Change::SetStatus { user_id, status, at } => {
                Self::Status { user_id: (*user_id).into(), status: status.as_str(), at: DbTime(*at) }
            }
            Change::SetDeleted { user_id, deleted_at, at } => {
                Self::Deleted { user_id: (*user_id).into(), deleted_at: deleted_at.map(DbTime), at: DbTime(*at) }
            }
            Change::SetRoles { user_id, roles, at } => {
                Self::Roles { user_id: (*user_id).into(), roles: roles_to_db(roles)?, at: DbTime(*at) }
            }
            Change::UpdateProfile { user_id, name, profile_picture, at } => Self::Profile {
                user_id: (*user_id).into(),
                name: name.as_ref().map(|n| n.as_str().to_owned()),
                picture: profile_picture.clone(),
                at: DbTime(*at),
            },
            Change::AppendAudit(entry) => Self::Audit(entry.try_into()?),
            Change::InsertNotification(n) => Self::Notification(n.try_into()?),
            Change::EnqueueMail(m) => Self::Mail(m.into()),
            Change::ClearFailures { key, at } => Self::ClearFailures { key: key.clone(), at: DbTime(*at) },
        })
    }
}

impl UnitOfWork for DieselStore {
    async fn commit(&self, changes: Vec<Change>) -> Result<Vec<i64>, StoreError> {
        let writes = changes.iter().map(Write::try_from).collect::<Result<Vec<_>, _>>()?;
        if writes.is_empty() {
            return Ok(Vec::new());
        }
        let audit_ids = dispatch!(self, |conn, _db|
            sqlite => conn.immediate_transaction::<_, DbError, _>(async |c| {
                let mut audit_ids = Vec::new();
                for write in &writes {
                    apply!(c, write, audit_ids);
                }
                Ok(audit_ids)
            }).await,
            postgres => ::diesel_async::AsyncConnection::transaction::<_, DbError, _>(conn, async |c| {
                let mut audit_ids = Vec::new();
                let mut rest = &writes[..];
                while let Some(write) = rest.first() {
                    let run = rest.iter().take_while(|w| w.is_plain_insert()).count();
                    if run > 1 {
                        let ids = try_join_all(rest[..run].iter().map(|w| insert_pipelined(c, w))).await?;
                        audit_ids.extend(ids.into_iter().flatten());
                        rest = &rest[run..];
                    } else {
                        apply!(c, write, audit_ids);
                        rest = &rest[1..];
                    }
                }
                Ok(audit_ids)
            }).await
        )?;
        Ok(audit_ids)
    }
}

impl Write {
    /// An unguarded write of rows that no other write of these kinds reads or changes: in a
    /// run of these the order does not matter, so the run can be pipelined.
    fn is_plain_insert(&self) -> bool {
        matches!(
            self,
            Self::Session(_) | Self::Audit(_) | Self::Notification(_) | Self::Mail(_) | Self::ClearFailures { .. }
        )
    }
}

/// One plain insert (see [`Write::is_plain_insert`]) on a shared connection, so that a run of
/// them is pipelined: PostgreSQL gets them all in one round trip instead of one each (a login
/// commits four: session, audit entry, notification, mail). Answers the audit entry's id.
async fn insert_pipelined(conn: &PgConn, write: &Write) -> Result<Option<i64>, DbError> {
    let mut conn = conn;
    Ok(match write {
        Write::Session(row) => {
            diesel::insert_into(sessions::table).values(row).execute(&mut conn).await?;
            None
        }
        Write::Audit(row) => Some(
            diesel::insert_into(audit_log::table).values(row).returning(audit_log::id).get_result(&mut conn).await?,
        ),
        Write::Notification(row) => {
            diesel::insert_into(notifications::table).values(row).execute(&mut conn).await?;
            None
        }
        Write::Mail(row) => {
            diesel::insert_into(mail_outbox::table).values(row).execute(&mut conn).await?;
            None
        }
        Write::ClearFailures { key, at } => {
            diesel::delete(counted_failures(key, *at)).execute(&mut conn).await?;
            None
        }
        _ => return Err(DbError::Internal("not a plain insert")),
    })
}

/// Applies one write on `$c` (either backend), pushing an audit entry's id onto `$audit_ids`.
/// A macro rather than a function: the body compiles once per connection type.
macro_rules! apply {
    ($c:ident, $write:expr, $audit_ids:ident) => {
        match $write {
            Write::User(row) => {
                diesel::insert_into(users::table)
                    .values(row)
                    .execute($c)
                    .await
                    .map_err(|e| if is_email_taken(&e) { DbError::DuplicateEmail } else { DbError::Query(e) })?;
            }
            Write::ReplaceCode(row) => {
                // Older unconsumed codes stop working the moment a new one is issued.
                diesel::delete(
                    codes::table
                        .filter(codes::user_id.eq(&row.user_id))
                        .filter(codes::purpose.eq(&row.purpose))
                        .filter(codes::consumed_at.is_null()),
                )
                .execute($c)
                .await?;
                diesel::insert_into(codes::table).values(row).execute($c).await?;
            }
            Write::ConsumeCode { id, at } => {
                // Guarded: only an unconsumed code flips, so a code works exactly once
                // however many requests race for it.
                let flipped = diesel::update(codes::table.find(id).filter(codes::consumed_at.is_null()))
                    .set(codes::consumed_at.eq(Some(*at)))
                    .execute($c)
                    .await?;
                if flipped == 0 {
                    return Err(DbError::Conflict);
                }
            }
            Write::MarkEmailVerified { user_id, at } => {
                diesel::update(users::table.find(user_id))
                    .set((users::email_verified_at.eq(Some(*at)), users::updated_at.eq(*at)))
                    .execute($c)
                    .await?;
            }
            Write::Session(row) => {
                diesel::insert_into(sessions::table).values(row).execute($c).await?;
            }
            Write::AlertToken { session_id, digest, expires_at } => {
                diesel::update(sessions::table.find(session_id))
                    .set((
                        sessions::alert_token_hash.eq(Some(digest)),
                        sessions::alert_expires_at.eq(Some(*expires_at)),
                    ))
                    .execute($c)
                    .await?;
            }
            Write::ConsumeAlertToken { session_id, digest } => {
                // Guarded like ConsumeCode: of racing "Not you?" clicks exactly one
                // clears the token (PostgreSQL re-checks the digest after the row lock).
                let cleared =
                    diesel::update(sessions::table.find(session_id).filter(sessions::alert_token_hash.eq(digest)))
                        .set((
                            sessions::alert_token_hash.eq(None::<Vec<u8>>),
                            sessions::alert_expires_at.eq(None::<DbTime>),
                        ))
                        .execute($c)
                        .await?;
                if cleared == 0 {
                    return Err(DbError::Conflict);
                }
            }
            Write::RotateRefresh { current, next, spent } => {
                // Guarded: only a live session still holding `current` rotates, so of
                // racing refreshes exactly one wins (PostgreSQL re-checks the WHERE on
                // the row version the winner committed); the others conflict.
                let rotated = diesel::update(
                    sessions::table
                        .find(spent.session_id)
                        .filter(sessions::revoked_at.is_null())
                        .filter(sessions::refresh_token_hash.eq(current)),
                )
                .set(sessions::refresh_token_hash.eq(next))
                .execute($c)
                .await?;
                if rotated == 0 {
                    return Err(DbError::Conflict);
                }
                diesel::insert_into(spent_refresh_tokens::table).values(spent).execute($c).await?;
            }
            Write::RevokeSession { session_id, at } => {
                // The first revocation time stands.
                diesel::update(sessions::table.find(session_id).filter(sessions::revoked_at.is_null()))
                    .set(sessions::revoked_at.eq(Some(*at)))
                    .execute($c)
                    .await?;
            }
            Write::TouchSession { session_id, at } => {
                // Guarded: requests finishing out of order never move it back.
                diesel::update(sessions::table.find(session_id).filter(sessions::last_seen_at.lt(*at)))
                    .set(sessions::last_seen_at.eq(*at))
                    .execute($c)
                    .await?;
            }
            Write::RevokeUserSessions { user_id, except, at } => {
                let live = sessions::table.filter(sessions::user_id.eq(user_id)).filter(sessions::revoked_at.is_null());
                let revoke = sessions::revoked_at.eq(Some(*at));
                match except {
                    Some(keep) => diesel::update(live.filter(sessions::id.ne(keep))).set(revoke).execute($c).await?,
                    None => diesel::update(live).set(revoke).execute($c).await?,
                };
            }
            Write::Password { user_id, hash, at } => {
                diesel::update(users::table.find(user_id))
                    .set((users::password_hash.eq(hash), users::updated_at.eq(*at)))
                    .execute($c)
                    .await?;
            }
            Write::Rehash { user_id, previous, hash, at } => {
                diesel::update(users::table.find(user_id).filter(users::password_hash.eq(previous)))
                    .set((users::password_hash.eq(hash), users::updated_at.eq(*at)))
                    .execute($c)
                    .await?;
            }
            Write::Status { user_id, status, at } => {
                diesel::update(users::table.find(user_id))
                    .set((users::status.eq(*status), users::updated_at.eq(*at)))
                    .execute($c)
                    .await?;
            }
            Write::Deleted { user_id, deleted_at, at } => {
                diesel::update(users::table.find(user_id))
                    .set((users::deleted_at.eq(*deleted_at), users::updated_at.eq(*at)))
                    .execute($c)
                    .await?;
            }
            Write::Roles { user_id, roles, at } => {
                diesel::update(users::table.find(user_id))
                    .set((users::roles.eq(roles), users::updated_at.eq(*at)))
                    .execute($c)
                    .await?;
            }
            Write::Profile { user_id, name, picture, at } => {
                // `None` parts of the changeset are left out of the SET list.
                diesel::update(users::table.find(user_id))
                    .set((
                        users::updated_at.eq(*at),
                        name.clone().map(|n| users::name.eq(n)),
                        picture.clone().map(|p| users::profile_picture.eq(p)),
                    ))
                    .execute($c)
                    .await?;
            }
            Write::Audit(row) => {
                let id: i64 =
                    diesel::insert_into(audit_log::table).values(row).returning(audit_log::id).get_result($c).await?;
                $audit_ids.push(id);
            }
            Write::Notification(row) => {
                diesel::insert_into(notifications::table).values(row).execute($c).await?;
            }
            Write::Mail(row) => {
                diesel::insert_into(mail_outbox::table).values(row).execute($c).await?;
            }
            Write::ClearFailures { key, at } => {
                diesel::delete(counted_failures(key, *at)).execute($c).await?;
            }
        }
    };
}

/// The rate events of one key.
type KeyEvents<'k> = diesel::dsl::Filter<rate_events::table, diesel::dsl::Eq<rate_events::key, &'k str>>;
/// "Not a reservation still pending": a counted event or an expired reservation.
type Counted = diesel::dsl::Or<
    diesel::dsl::IsNull<rate_events::pending_until>,
    diesel::dsl::LtEq<rate_events::pending_until, DbTime>,
>;

/// Stamped at or before a time.
type NotAfter = diesel::dsl::LtEq<rate_events::at, DbTime>;

/// The events of rate key `key` that count at `at` and are stamped at or before it: failures
/// from `at` on (a failure is stamped when confirmed) and reservations still pending stay.
fn counted_failures(
    key: &str,
    at: DbTime,
) -> diesel::dsl::Filter<diesel::dsl::Filter<KeyEvents<'_>, NotAfter>, Counted> {
    rate_events::table
        .filter(rate_events::key.eq(key))
        .filter(rate_events::at.le(at))
        .filter(rate_events::pending_until.is_null().or(rate_events::pending_until.le(at)))
}
use apply;
