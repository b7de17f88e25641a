//! [`UnitOfWork`]: every [`Change`] of a commit in one write transaction, or none.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use portcullis_domain::ports::{Change, Committed, StoreError, UnitOfWork};

use crate::DieselStore;
use futures_util::future::try_join_all;

use crate::backend::postgres::PgConn;
use crate::detached::dispatch;
use crate::error::{DbError, is_email_taken};
use crate::rows::{
    CeremonyRow, CodeRow, EmailChangeRow, FactorRow, MailRow, NewAuditRow, NotificationRow, PasskeyRow,
    RecoveryCodeRow, SessionRow, SpentRefreshRow, UserRow, erased_device, erased_metadata, roles_to_db, step_to_db,
};
use crate::schema::{
    audit_log, email_changes, mail_outbox, mfa_factors, notifications, passkeys, rate_events, recovery_codes, sessions,
    spent_refresh_tokens, users, verification_codes as codes, webauthn_challenges,
};
use crate::sql_types::{DbTime, DbUuid};

impl UnitOfWork for DieselStore {
    async fn commit(&self, changes: Vec<Change>) -> Result<Committed, StoreError> {
        if changes.is_empty() {
            return Ok(Committed::default());
        }
        let done = dispatch!(self, |conn, _db|
            sqlite => conn.immediate_transaction::<_, DbError, _>(async |c| {
                let mut done = Committed::default();
                for (index, change) in changes.iter().enumerate() {
                    if let Some(id) = apply!(&mut *c, change).await? {
                        done.record_audit_id(index, id);
                    }
                }
                Ok(done)
            }).await,
            postgres => ::diesel_async::AsyncConnection::transaction::<_, DbError, _>(conn, async |c| {
                apply_all_pg(c, &changes, &OurUsersTable).await
            }).await
        )?;
        Ok(done)
    }
}

/// Where a PostgreSQL commit sends the changes to users: our own `users` table (through
/// `apply!`, like every other change) or an embedder's table ([`crate::own_users`]).
pub(crate) trait UserWrites: Sync {
    /// Applies `change` when it is a user change this writer takes; `Ok(false)` otherwise.
    fn apply_user_change(&self, c: &mut PgConn, change: &Change) -> impl Future<Output = Result<bool, DbError>> + Send;
}

/// Users live in our `users` table: `apply!` writes them.
pub(crate) struct OurUsersTable;

impl UserWrites for OurUsersTable {
    async fn apply_user_change(&self, _: &mut PgConn, _: &Change) -> Result<bool, DbError> {
        Ok(false)
    }
}

/// Applies `changes` in order on `c`, which the caller holds in a transaction: runs of plain
/// inserts are pipelined (see [`is_plain_insert`]), user changes go to `users`.
pub(crate) async fn apply_all_pg(
    c: &mut PgConn,
    changes: &[Change],
    users: &impl UserWrites,
) -> Result<Committed, DbError> {
    let mut done = Committed::default();
    let mut index = 0;
    while index < changes.len() {
        let run = changes[index..].iter().take_while(|change| is_plain_insert(change)).count();
        if run > 1 {
            let shared: &PgConn = &*c;
            let ids = try_join_all(changes[index..index + run].iter().map(|change| async move {
                let mut conn = shared;
                apply!(&mut conn, change).await
            }))
            .await?;
            for (offset, id) in ids.into_iter().enumerate() {
                if let Some(id) = id {
                    done.record_audit_id(index + offset, id);
                }
            }
            index += run;
        } else {
            let change = &changes[index];
            if !users.apply_user_change(c, change).await?
                && let Some(id) = apply!(&mut *c, change).await?
            {
                done.record_audit_id(index, id);
            }
            index += 1;
        }
    }
    Ok(done)
}

/// An unguarded write of rows that no other change of these kinds reads or changes: in a run
/// of these the order does not matter, so PostgreSQL gets the run pipelined, in one round
/// trip instead of one each (a login commits six: session, audit entry, cleared failures,
/// notification, mail and the released reservation). The two deletes qualify: they touch
/// only rate events, which no insert here writes, and deleting a row both select is the
/// same in either order. So does the check that a user has no active second factor: it only
/// touches factor rows, which none of these writes, so a password-only login pays no round
/// trip for it.
fn is_plain_insert(change: &Change) -> bool {
    matches!(
        change,
        Change::InsertSession(_)
            | Change::AppendAudit(_)
            | Change::InsertNotification(_)
            | Change::EnqueueMail(_)
            | Change::ClearFailures { .. }
            | Change::ReleasePermit(_)
            | Change::InsertCode(_)
            | Change::ExpectNoSecondFactor { .. }
            | Change::InsertCeremony(_)
    )
}

/// Applies one change on `$c` (a `&mut` of either backend's connection, or of a shared
/// PostgreSQL connection for a pipelined run): a future of the audit entry's id, if the
/// change appended one. Encoding into rows happens here, so each kind of write is written
/// once. A macro rather than a function: the body compiles once per connection type.
macro_rules! apply {
    ($c:expr, $change:expr) => {
        async {
            let c = $c;
            match $change {
                Change::InsertUser(user) => {
                    let row = UserRow::try_from(user)?;
                    diesel::insert_into(users::table)
                        .values(&row)
                        .execute(c)
                        .await
                        .map_err(|e| if is_email_taken(&e) { DbError::DuplicateEmail } else { DbError::Query(e) })?;
                }
                Change::ReplaceCode(code) => {
                    let row = CodeRow::from(code);
                    // Older unconsumed codes stop working the moment a new one is issued.
                    diesel::delete(
                        codes::table
                            .filter(codes::user_id.eq(&row.user_id))
                            .filter(codes::purpose.eq(&row.purpose))
                            .filter(codes::consumed_at.is_null()),
                    )
                    .execute(&mut *c)
                    .await?;
                    diesel::insert_into(codes::table).values(&row).execute(c).await?;
                }
                Change::ConsumeCode { id, at } => {
                    // Guarded: only an unconsumed code flips, so a code works exactly once
                    // however many requests race for it.
                    let flipped =
                        diesel::update(codes::table.find(DbUuid::from(*id)).filter(codes::consumed_at.is_null()))
                            .set(codes::consumed_at.eq(Some(DbTime(*at))))
                            .execute(c)
                            .await?;
                    if flipped == 0 {
                        return Err(DbError::Conflict);
                    }
                }
                Change::DiscardCodes { user_id, at } => {
                    diesel::update(
                        codes::table
                            .filter(codes::user_id.eq(DbUuid::from(*user_id)))
                            .filter(codes::consumed_at.is_null()),
                    )
                    .set(codes::consumed_at.eq(Some(DbTime(*at))))
                    .execute(c)
                    .await?;
                }
                Change::MarkEmailVerified { user_id, at } => {
                    diesel::update(users::table.find(DbUuid::from(*user_id)))
                        .set((users::email_verified_at.eq(Some(DbTime(*at))), users::updated_at.eq(DbTime(*at))))
                        .execute(c)
                        .await?;
                }
                Change::InsertSession(session) => {
                    let row = SessionRow::try_from(session)?;
                    diesel::insert_into(sessions::table).values(&row).execute(c).await?;
                }
                Change::SetAlertToken { session_id, digest, expires_at } => {
                    diesel::update(sessions::table.find(DbUuid::from(*session_id)))
                        .set((
                            sessions::alert_token_hash.eq(Some(digest.as_bytes())),
                            sessions::alert_expires_at.eq(Some(DbTime(*expires_at))),
                        ))
                        .execute(c)
                        .await?;
                }
                Change::ConsumeAlertToken { session_id, digest } => {
                    // Guarded like ConsumeCode: of racing "Not you?" clicks exactly one
                    // clears the token (PostgreSQL re-checks the digest after the row lock).
                    let cleared = diesel::update(
                        sessions::table
                            .find(DbUuid::from(*session_id))
                            .filter(sessions::alert_token_hash.eq(digest.as_bytes())),
                    )
                    .set((
                        sessions::alert_token_hash.eq(None::<Vec<u8>>),
                        sessions::alert_expires_at.eq(None::<DbTime>),
                    ))
                    .execute(c)
                    .await?;
                    if cleared == 0 {
                        return Err(DbError::Conflict);
                    }
                }
                Change::RotateRefreshToken { session_id, current, next, successor, at } => {
                    // Guarded: only a live session still holding `current` rotates, so of
                    // racing refreshes exactly one wins (PostgreSQL re-checks the WHERE on
                    // the row version the winner committed); the others conflict.
                    let rotated = diesel::update(
                        sessions::table
                            .find(DbUuid::from(*session_id))
                            .filter(sessions::revoked_at.is_null())
                            .filter(sessions::refresh_token_hash.eq(current.as_bytes())),
                    )
                    .set(sessions::refresh_token_hash.eq(next.as_bytes()))
                    .execute(&mut *c)
                    .await?;
                    if rotated == 0 {
                        return Err(DbError::Conflict);
                    }
                    let spent = SpentRefreshRow {
                        digest: current.as_bytes().to_vec(),
                        session_id: (*session_id).into(),
                        spent_at: DbTime(*at),
                        successor: successor.clone(),
                    };
                    diesel::insert_into(spent_refresh_tokens::table).values(&spent).execute(c).await?;
                }
                Change::RevokeSession { session_id, at } => {
                    // The first revocation time stands.
                    diesel::update(
                        sessions::table.find(DbUuid::from(*session_id)).filter(sessions::revoked_at.is_null()),
                    )
                    .set(sessions::revoked_at.eq(Some(DbTime(*at))))
                    .execute(c)
                    .await?;
                }
                Change::TouchSession { session_id, at } => {
                    // Guarded: requests finishing out of order never move it back.
                    diesel::update(
                        sessions::table.find(DbUuid::from(*session_id)).filter(sessions::last_seen_at.lt(DbTime(*at))),
                    )
                    .set(sessions::last_seen_at.eq(DbTime(*at)))
                    .execute(c)
                    .await?;
                }
                Change::RevokeUserSessions { user_id, except, at } => {
                    let live = sessions::table
                        .filter(sessions::user_id.eq(DbUuid::from(*user_id)))
                        .filter(sessions::revoked_at.is_null());
                    let revoke = sessions::revoked_at.eq(Some(DbTime(*at)));
                    match except {
                        Some(keep) => {
                            diesel::update(live.filter(sessions::id.ne(DbUuid::from(*keep))))
                                .set(revoke)
                                .execute(c)
                                .await?
                        }
                        None => diesel::update(live).set(revoke).execute(c).await?,
                    };
                }
                Change::SetPassword { user_id, hash, at } => {
                    diesel::update(users::table.find(DbUuid::from(*user_id)))
                        .set((users::password_hash.eq(hash.as_str()), users::updated_at.eq(DbTime(*at))))
                        .execute(c)
                        .await?;
                }
                Change::RehashPassword { user_id, previous, hash, at } => {
                    // Guarded: a password changed meanwhile stays changed.
                    diesel::update(
                        users::table.find(DbUuid::from(*user_id)).filter(users::password_hash.eq(previous.as_str())),
                    )
                    .set((users::password_hash.eq(hash.as_str()), users::updated_at.eq(DbTime(*at))))
                    .execute(c)
                    .await?;
                }
                Change::SetStatus { user_id, status, at } => {
                    diesel::update(users::table.find(DbUuid::from(*user_id)))
                        .set((users::status.eq(status.as_str()), users::updated_at.eq(DbTime(*at))))
                        .execute(c)
                        .await?;
                }
                Change::SetDeleted { user_id, deleted_at, at } => {
                    diesel::update(users::table.find(DbUuid::from(*user_id)))
                        .set((users::deleted_at.eq(deleted_at.map(DbTime)), users::updated_at.eq(DbTime(*at))))
                        .execute(c)
                        .await?;
                }
                Change::DeleteUser { user_id, deleted_at } => {
                    // Guarded: an account restored, deleted again or erased since it was
                    // read is left alone. Our tables' rows go with it (ON DELETE CASCADE);
                    // the audit log has no foreign key and keeps its entries.
                    let deleted = diesel::delete(
                        users::table
                            .find(DbUuid::from(*user_id))
                            .filter(users::deleted_at.eq(Some(DbTime(*deleted_at)))),
                    )
                    .execute(c)
                    .await?;
                    if deleted == 0 {
                        return Err(DbError::Conflict);
                    }
                }
                Change::RestoreUser { user_id, deleted_at, at } => {
                    // Guarded: an account erased (or deleted again) since it was read is no
                    // answer for a restore.
                    let restored = diesel::update(
                        users::table
                            .find(DbUuid::from(*user_id))
                            .filter(users::deleted_at.eq(Some(DbTime(*deleted_at)))),
                    )
                    .set((users::deleted_at.eq(None::<DbTime>), users::updated_at.eq(DbTime(*at))))
                    .execute(c)
                    .await?;
                    if restored == 0 {
                        return Err(DbError::Conflict);
                    }
                }
                Change::EraseAccountData { user_id, email } => {
                    let uid = DbUuid::from(*user_id);
                    // Explicit rather than left to the cascade: with an embedder's user
                    // table (`own_users`) the row is theirs, and these rows are ours.
                    let of_user = sessions::table.filter(sessions::user_id.eq(uid)).select(sessions::id);
                    diesel::delete(
                        spent_refresh_tokens::table.filter(spent_refresh_tokens::session_id.eq_any(of_user)),
                    )
                    .execute(&mut *c)
                    .await?;
                    diesel::delete(sessions::table.filter(sessions::user_id.eq(uid))).execute(&mut *c).await?;
                    diesel::delete(codes::table.filter(codes::user_id.eq(uid))).execute(&mut *c).await?;
                    diesel::delete(notifications::table.filter(notifications::user_id.eq(uid)))
                        .execute(&mut *c)
                        .await?;
                    diesel::delete(passkeys::table.filter(passkeys::user_id.eq(uid))).execute(&mut *c).await?;
                    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(uid)))
                        .execute(&mut *c)
                        .await?;
                    diesel::delete(mfa_factors::table.filter(mfa_factors::user_id.eq(uid))).execute(&mut *c).await?;
                    diesel::delete(webauthn_challenges::table.filter(webauthn_challenges::user_id.eq(uid)))
                        .execute(&mut *c)
                        .await?;
                    diesel::delete(email_changes::table.filter(email_changes::user_id.eq(uid)))
                        .execute(&mut *c)
                        .await?;
                    if let Some(email) = email {
                        diesel::delete(mail_outbox::table.filter(mail_outbox::to_email.eq(email.as_str())))
                            .execute(&mut *c)
                            .await?;
                    }
                    // Only the entries that can hold the erased members are read back and
                    // rewritten (factor events, client-reported sign-ins): a history inflated
                    // with failed logins costs the statement below, not a write per row.
                    let metadata: Vec<(i64, crate::sql_types::DbJson)> = audit_log::table
                        .filter(audit_log::user_id.eq(uid))
                        .filter(audit_log::action.like("mfa.%").or(audit_log::fingerprint.is_not_null()))
                        .select((audit_log::id, audit_log::metadata))
                        .load(&mut *c)
                        .await?;
                    for (id, json) in metadata {
                        if let Some(erased) = erased_metadata(&json)? {
                            diesel::update(audit_log::table.find(id))
                                .set(audit_log::metadata.eq(erased))
                                .execute(&mut *c)
                                .await?;
                        }
                    }
                    diesel::update(
                        audit_log::table.filter(audit_log::user_id.eq(uid)).filter(
                            audit_log::ip_address
                                .is_not_null()
                                .or(audit_log::user_agent.is_not_null())
                                .or(audit_log::location.is_not_null())
                                .or(audit_log::fingerprint.is_not_null()),
                        ),
                    )
                    .set((
                        audit_log::ip_address.eq(None::<crate::sql_types::DbIp>),
                        audit_log::user_agent.eq(None::<String>),
                        audit_log::device.eq(erased_device()?),
                        audit_log::location.eq(None::<crate::sql_types::DbJson>),
                        audit_log::fingerprint.eq(None::<String>),
                    ))
                    .execute(&mut *c)
                    .await?;
                }
                Change::ChangeEmail { user_id, from, to, at } => {
                    // Guarded on the address as read, and on a live account: of two changes
                    // racing on one account, one moves it. The unique index on the address
                    // decides between accounts racing to one address (PostgreSQL makes the
                    // later writer wait for the earlier's commit, then fail): a conflict, not
                    // a duplicate registration.
                    let moved = diesel::update(
                        users::table
                            .find(DbUuid::from(*user_id))
                            .filter(users::email.eq(from.as_str()))
                            .filter(users::deleted_at.is_null()),
                    )
                    .set((
                        users::email.eq(to.as_str()),
                        users::email_verified_at.eq(Some(DbTime(*at))),
                        users::updated_at.eq(DbTime(*at)),
                    ))
                    .execute(c)
                    .await
                    .map_err(|e| if is_email_taken(&e) { DbError::Conflict } else { DbError::Query(e) })?;
                    if moved == 0 {
                        return Err(DbError::Conflict);
                    }
                }
                Change::StartEmailChange(change) => {
                    let row = EmailChangeRow::from(change);
                    // The newest request is the one its code confirms.
                    diesel::delete(
                        email_changes::table
                            .filter(email_changes::user_id.eq(DbUuid::from(change.user_id)))
                            .filter(email_changes::confirmed_at.is_null()),
                    )
                    .execute(&mut *c)
                    .await?;
                    diesel::insert_into(email_changes::table).values(&row).execute(c).await?;
                }
                Change::ConfirmEmailChange { id, revert_digest, revert_expires_at, at } => {
                    // Guarded like ConfirmFactor: a change is confirmed once.
                    let confirmed = diesel::update(
                        email_changes::table.find(DbUuid::from(*id)).filter(email_changes::confirmed_at.is_null()),
                    )
                    .set((
                        email_changes::confirmed_at.eq(Some(DbTime(*at))),
                        email_changes::revert_token_hash.eq(Some(revert_digest.as_bytes())),
                        email_changes::revert_expires_at.eq(Some(DbTime(*revert_expires_at))),
                    ))
                    .execute(c)
                    .await?;
                    if confirmed == 0 {
                        return Err(DbError::Conflict);
                    }
                }
                Change::RevertEmailChange { id, user_id, at } => {
                    let (this, owner, at) = (DbUuid::from(*id), DbUuid::from(*user_id), DbTime(*at));
                    let of_owner = email_changes::table.filter(email_changes::user_id.eq(owner));
                    // Guarded: the link works once (PostgreSQL re-checks the WHERE after the
                    // row lock, so of racing clicks one matches).
                    let confirmed: Option<Option<DbTime>> = diesel::update(
                        of_owner
                            .filter(email_changes::id.eq(this))
                            .filter(email_changes::confirmed_at.is_not_null())
                            .filter(email_changes::reverted_at.is_null())
                            .filter(email_changes::revert_expires_at.gt(at)),
                    )
                    .set(email_changes::reverted_at.eq(Some(at)))
                    .returning(email_changes::confirmed_at)
                    .get_result(&mut *c)
                    .await
                    .optional()?;
                    let Some(Some(confirmed)) = confirmed else { return Err(DbError::Conflict) };
                    // The links of the changes confirmed after this one end now. "After" is
                    // (confirmed_at, id) order: a later confirmation, or the same instant and
                    // a greater (UUIDv7: later requested) id.
                    diesel::update(
                        of_owner
                            .filter(email_changes::reverted_at.is_null())
                            .filter(email_changes::revert_expires_at.gt(at))
                            .filter(
                                email_changes::confirmed_at
                                    .gt(confirmed)
                                    .or(email_changes::confirmed_at.eq(confirmed).and(email_changes::id.gt(this))),
                            ),
                    )
                    .set(email_changes::revert_expires_at.eq(Some(at)))
                    .execute(&mut *c)
                    .await?;
                    diesel::delete(of_owner.filter(email_changes::confirmed_at.is_null())).execute(c).await?;
                }
                Change::SetRoles { user_id, roles, at } => {
                    diesel::update(users::table.find(DbUuid::from(*user_id)))
                        .set((users::roles.eq(roles_to_db(roles)?), users::updated_at.eq(DbTime(*at))))
                        .execute(c)
                        .await?;
                }
                Change::UpdateProfile { user_id, name, profile_picture, at } => {
                    // `None` parts of the changeset are left out of the SET list.
                    diesel::update(users::table.find(DbUuid::from(*user_id)))
                        .set((
                            users::updated_at.eq(DbTime(*at)),
                            name.as_ref().map(|n| users::name.eq(n.as_str().to_owned())),
                            profile_picture.clone().map(|p| users::profile_picture.eq(p)),
                        ))
                        .execute(c)
                        .await?;
                }
                Change::AppendAudit(entry) => {
                    let row = NewAuditRow::try_from(entry)?;
                    let id: i64 = diesel::insert_into(audit_log::table)
                        .values(&row)
                        .returning(audit_log::id)
                        .get_result(c)
                        .await?;
                    return Ok(Some(id));
                }
                Change::InsertNotification(notification) => {
                    let row = NotificationRow::try_from(notification)?;
                    diesel::insert_into(notifications::table).values(&row).execute(c).await?;
                }
                Change::EnqueueMail(mail) => {
                    let row = MailRow::from(mail);
                    diesel::insert_into(mail_outbox::table).values(&row).execute(c).await?;
                }
                Change::ClearFailures { key, at } => {
                    diesel::delete(counted_failures(key, DbTime(*at))).execute(c).await?;
                }
                Change::ReleasePermit(permit) => {
                    diesel::delete(rate_events::table.find(permit.0)).execute(c).await?;
                }
                Change::InsertCode(code) => {
                    diesel::insert_into(codes::table).values(&CodeRow::from(code)).execute(c).await?;
                }
                Change::InsertFactor(factor) => {
                    let row = FactorRow::try_from(factor)?;
                    diesel::insert_into(mfa_factors::table).values(&row).execute(c).await?;
                }
                Change::ConfirmFactor { factor_id, step, at } => {
                    // Guarded: a factor is confirmed once, by one of racing requests.
                    let confirmed = diesel::update(
                        mfa_factors::table.find(DbUuid::from(*factor_id)).filter(mfa_factors::confirmed_at.is_null()),
                    )
                    .set((
                        mfa_factors::confirmed_at.eq(Some(DbTime(*at))),
                        mfa_factors::last_used_step.eq(Some(step_to_db(*step)?)),
                    ))
                    .execute(c)
                    .await?;
                    if confirmed == 0 {
                        return Err(DbError::Conflict);
                    }
                }
                Change::ActivateFactor { factor_id, at } => {
                    // Guarded like ConfirmFactor: of racing activations, one commits.
                    let activated = diesel::update(
                        mfa_factors::table.find(DbUuid::from(*factor_id)).filter(mfa_factors::confirmed_at.is_null()),
                    )
                    .set(mfa_factors::confirmed_at.eq(Some(DbTime(*at))))
                    .execute(c)
                    .await?;
                    if activated == 0 {
                        return Err(DbError::Conflict);
                    }
                }
                Change::UseTotpStep { factor_id, step, at } => {
                    // Guarded (RFC 6238 §5.2): the step only moves forward, so a code is
                    // accepted once; PostgreSQL re-checks the WHERE on the row version a
                    // racing winner committed, and the loser matches nothing.
                    let step = step_to_db(*step)?;
                    let used = diesel::update(
                        mfa_factors::table
                            .find(DbUuid::from(*factor_id))
                            .filter(mfa_factors::confirmed_at.is_not_null())
                            .filter(mfa_factors::last_used_step.is_null().or(mfa_factors::last_used_step.lt(step))),
                    )
                    .set((mfa_factors::last_used_step.eq(Some(step)), mfa_factors::last_used_at.eq(Some(DbTime(*at)))))
                    .execute(c)
                    .await?;
                    if used == 0 {
                        return Err(DbError::Conflict);
                    }
                }
                Change::DeleteFactor { user_id, factor_id } => {
                    let owner = DbUuid::from(*user_id);
                    // Lock the user's factors first (a no-op write; SQLite's write transaction
                    // is exclusive anyway): two removals racing on PostgreSQL then run one
                    // after the other, and the second sees the first's deletion when it asks
                    // below whether an active factor is left.
                    diesel::update(mfa_factors::table.filter(mfa_factors::user_id.eq(owner)))
                        .set(mfa_factors::name.eq(mfa_factors::name))
                        .execute(&mut *c)
                        .await?;
                    diesel::delete(
                        mfa_factors::table.find(DbUuid::from(*factor_id)).filter(mfa_factors::user_id.eq(owner)),
                    )
                    .execute(&mut *c)
                    .await?;
                    let active = mfa_factors::table
                        .filter(mfa_factors::user_id.eq(owner))
                        .filter(mfa_factors::confirmed_at.is_not_null());
                    diesel::delete(
                        recovery_codes::table
                            .filter(recovery_codes::user_id.eq(owner))
                            .filter(diesel::dsl::not(diesel::dsl::exists(active))),
                    )
                    .execute(c)
                    .await?;
                }
                Change::DeleteUserFactors { user_id } => {
                    let owner = DbUuid::from(*user_id);
                    diesel::delete(mfa_factors::table.filter(mfa_factors::user_id.eq(owner))).execute(&mut *c).await?;
                    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(owner))).execute(c).await?;
                }
                Change::ReplaceRecoveryCodes { user_id, digests, at } => {
                    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(DbUuid::from(*user_id))))
                        .execute(&mut *c)
                        .await?;
                    // One statement each: SQLite has no multi-row insert in diesel, and this
                    // runs when a user sets up or renews their codes, not per sign-in.
                    for digest in digests {
                        diesel::insert_into(recovery_codes::table)
                            .values(&RecoveryCodeRow::unused(*user_id, digest, *at))
                            .execute(&mut *c)
                            .await?;
                    }
                }
                Change::SpendRecoveryCode { user_id, digest, at } => {
                    // Guarded like ConsumeCode: of racing requests, one spends the code.
                    let spent = diesel::update(
                        recovery_codes::table
                            .find((DbUuid::from(*user_id), digest.as_bytes()))
                            .filter(recovery_codes::used_at.is_null()),
                    )
                    .set(recovery_codes::used_at.eq(Some(DbTime(*at))))
                    .execute(c)
                    .await?;
                    if spent == 0 {
                        return Err(DbError::Conflict);
                    }
                }
                Change::ExpectNoSecondFactor { user_id } => {
                    // A no-op write of every factor row of the user, pending ones included,
                    // rather than a read: on PostgreSQL it waits for a confirmation in
                    // flight and sees its outcome (RETURNING reads the row version it
                    // locked), and a confirmation that comes later waits for this commit,
                    // whose session its "revoke the other sessions" then sees. An account
                    // without factors matches no row and writes nothing.
                    let confirmed: Vec<Option<DbTime>> =
                        diesel::update(mfa_factors::table.filter(mfa_factors::user_id.eq(DbUuid::from(*user_id))))
                            .set(mfa_factors::name.eq(mfa_factors::name))
                            .returning(mfa_factors::confirmed_at)
                            .get_results(c)
                            .await?;
                    if confirmed.iter().any(Option::is_some) {
                        return Err(DbError::Conflict);
                    }
                }
                Change::InsertCeremony(ceremony) => {
                    diesel::insert_into(webauthn_challenges::table)
                        .values(&CeremonyRow::from(ceremony))
                        .execute(c)
                        .await?;
                }
                Change::InsertPasskey(passkey) => {
                    // Guarded by the unique credential id: of two accounts registering one
                    // credential, one commits.
                    let inserted = diesel::insert_into(passkeys::table)
                        .values(&PasskeyRow::from(passkey))
                        .on_conflict_do_nothing()
                        .execute(c)
                        .await?;
                    if inserted == 0 {
                        return Err(DbError::Conflict);
                    }
                }
                Change::UsePasskey { factor_id, seen_count, sign_count, credential, backed_up, at } => {
                    // Guarded like UseTotpStep: the counter moves from the value the assertion
                    // was checked against, once; a racing loser matches nothing.
                    let used = diesel::update(
                        passkeys::table
                            .find(DbUuid::from(*factor_id))
                            .filter(passkeys::disabled_at.is_null())
                            .filter(passkeys::sign_count.eq(i64::from(*seen_count))),
                    )
                    .set((
                        passkeys::sign_count.eq(i64::from(*sign_count)),
                        passkeys::credential.eq(&credential.0),
                        passkeys::backed_up.eq(*backed_up),
                    ))
                    .execute(&mut *c)
                    .await?;
                    if used == 0 {
                        return Err(DbError::Conflict);
                    }
                    diesel::update(mfa_factors::table.find(DbUuid::from(*factor_id)))
                        .set(mfa_factors::last_used_at.eq(Some(DbTime(*at))))
                        .execute(c)
                        .await?;
                }
                Change::DisablePasskey { factor_id, at } => {
                    diesel::update(
                        passkeys::table.find(DbUuid::from(*factor_id)).filter(passkeys::disabled_at.is_null()),
                    )
                    .set(passkeys::disabled_at.eq(Some(DbTime(*at))))
                    .execute(c)
                    .await?;
                }
            }
            Ok::<Option<i64>, DbError>(None)
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

#[cfg(test)]
mod tests {
    use diesel::pg::Pg;
    use diesel::query_builder::QueryFragment;
    use portcullis_domain::model::{AuditAction, CodePurpose};
    use portcullis_testing::contract::T0;
    use portcullis_testing::fixtures;

    use super::*;

    /// Every row a commit inserts goes in as a statement the connection keeps prepared: an
    /// insert diesel cannot cache (a `None` written as `DEFAULT` changes its text) costs a
    /// `Parse` round trip and a parse and plan on the server each time. Rows therefore write
    /// `None` as NULL (`treat_none_as_default_value = false`).
    #[test]
    fn row_inserts_are_prepared_once_per_connection() {
        let user = fixtures::user("laura@example.com", T0);
        let user_row = UserRow::try_from(&user).expect("user row");
        let session = SessionRow::try_from(&fixtures::session(&user, T0)).expect("session row");
        let audit = NewAuditRow::try_from(&fixtures::audit(None, AuditAction::LoginSuccess, T0)).expect("audit row");
        let note = NotificationRow::try_from(&fixtures::notification(&user, T0)).expect("notification row");
        let mail = MailRow::from(&fixtures::mail("laura@example.com", T0));
        let code = CodeRow::from(&fixtures::code(&user, CodePurpose::VerifyEmail, "123456", T0));
        let cacheable = [
            diesel::insert_into(users::table).values(&user_row).is_safe_to_cache_prepared(&Pg),
            diesel::insert_into(sessions::table).values(&session).is_safe_to_cache_prepared(&Pg),
            diesel::insert_into(audit_log::table).values(&audit).is_safe_to_cache_prepared(&Pg),
            diesel::insert_into(notifications::table).values(&note).is_safe_to_cache_prepared(&Pg),
            diesel::insert_into(mail_outbox::table).values(&mail).is_safe_to_cache_prepared(&Pg),
            diesel::insert_into(codes::table).values(&code).is_safe_to_cache_prepared(&Pg),
        ];
        assert!(cacheable.iter().all(|c| matches!(c, Ok(true))), "{cacheable:?}");
    }
}
