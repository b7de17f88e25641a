//! Address changes: `StartEmailChange`, `ConfirmEmailChange` and `RevertEmailChange` (each
//! guarded), `ChangeEmail` (guarded on the account and decided by the unique address), their
//! reads, and the erasure of an account's changes.

use std::time::Duration;

use futures_util::future::join_all;
use portcullis_domain::model::{AuditAction, Email, EmailChange, EmailChangeId, SecretDigest, Timestamp, User, UserId};
use portcullis_domain::ports::{Change, Store, StoreError};

use super::{T0, commit_ok, history, insert_user};
use crate::fixtures;

/// How long a revert link works, in these cases.
const WINDOW: Duration = Duration::from_secs(7 * 24 * 60 * 60);

fn secs(n: u64) -> Timestamp {
    T0.plus(Duration::from_secs(n))
}

fn digest(n: u8) -> SecretDigest {
    SecretDigest::new(vec![n; 32])
}

fn conflict<T: std::fmt::Debug>(result: Result<T, StoreError>) -> bool {
    matches!(result, Err(StoreError::Conflict))
}

/// The confirmation of `change` at `at`, with the revert link `digest` working for [`WINDOW`].
fn confirm(change: &EmailChange, digest: SecretDigest, at: Timestamp) -> Change {
    Change::ConfirmEmailChange { id: change.id, revert_digest: digest, revert_expires_at: at.plus(WINDOW), at }
}

/// `change` as stored once [`confirm`]ed.
fn confirmed(change: &EmailChange, digest: SecretDigest, at: Timestamp) -> EmailChange {
    EmailChange {
        confirmed_at: Some(at),
        revert_digest: Some(digest),
        revert_expires_at: Some(at.plus(WINDOW)),
        ..change.clone()
    }
}

/// Requests a change of `user`'s address to `to` at `at`, and confirms it (moving the
/// account) one second later with the revert link `digest`: the change as stored.
async fn move_address<S: Store>(store: &S, user: &User, to: &str, digest: SecretDigest, at: Timestamp) -> EmailChange {
    let change = fixtures::email_change(user, to, at);
    commit_ok(store, vec![Change::StartEmailChange(change.clone())]).await;
    let done = at.plus(Duration::from_secs(1));
    commit_ok(
        store,
        vec![
            confirm(&change, digest.clone(), done),
            Change::ChangeEmail {
                user_id: user.id,
                from: change.old_email.clone(),
                to: change.new_email.clone(),
                at: done,
            },
        ],
    )
    .await;
    confirmed(&change, digest, done)
}

async fn pending<S: Store>(store: &S, user_id: UserId) -> Option<EmailChange> {
    let all = store.email_changes(user_id).await.expect("email_changes");
    all.into_iter().find(|c| c.confirmed_at.is_none())
}

async fn by_revert<S: Store>(store: &S, digest: SecretDigest) -> Option<EmailChange> {
    store.email_change_by_revert(digest).await.expect("email_change_by_revert")
}

async fn reserved<S: Store>(store: &S, address: &str, now: Timestamp) -> bool {
    store.email_reserved_for_revert(&fixtures::email(address), now).await.expect("email_reserved_for_revert")
}

/// `StartEmailChange` round-trips through `email_changes`; a newer request deletes
/// the account's pending one (its code confirms nothing any more) and no other account's,
/// and keeps the confirmed ones.
pub async fn start_email_change_replaces_the_pending_one<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let ana = insert_user(store, "ana@example.com").await;
    assert_eq!(pending(store, laura.id).await, None);
    let first = fixtures::email_change(&laura, "laura@work.example.com", T0);
    commit_ok(store, vec![Change::StartEmailChange(first.clone())]).await;
    assert_eq!(pending(store, laura.id).await, Some(first.clone()));

    let second = fixtures::email_change(&laura, "laura@home.example.com", secs(1));
    let anas = fixtures::email_change(&ana, "ana@work.example.com", secs(1));
    commit_ok(store, vec![Change::StartEmailChange(anas.clone()), Change::StartEmailChange(second.clone())]).await;
    assert_eq!(pending(store, laura.id).await, Some(second.clone()));
    assert_eq!(pending(store, ana.id).await, Some(anas), "another account's request stays");
    assert!(conflict(store.commit(vec![confirm(&first, digest(1), secs(2))]).await), "the replaced one is gone");

    commit_ok(store, vec![confirm(&second, digest(2), secs(2))]).await;
    assert_eq!(pending(store, laura.id).await, None, "a confirmed change is not pending");
    let third = fixtures::email_change(&laura, "laura@third.example.com", secs(3));
    commit_ok(store, vec![Change::StartEmailChange(third.clone())]).await;
    assert_eq!(pending(store, laura.id).await, Some(third.clone()));
    assert_eq!(by_revert(store, digest(2)).await, Some(confirmed(&second, digest(2), secs(2))), "confirmed ones stay");
    let all = store.email_changes(laura.id).await.expect("email_changes");
    assert_eq!(all, vec![third, confirmed(&second, digest(2), secs(2))], "every one of the account's, newest first");
}

/// `ConfirmEmailChange` sets the confirmation and the revert link of a pending change once:
/// again, or for an absent change, the commit fails with `Conflict` and writes nothing.
pub async fn confirm_email_change_works_once<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let change = fixtures::email_change(&laura, "laura@work.example.com", T0);
    commit_ok(store, vec![Change::StartEmailChange(change.clone())]).await;
    commit_ok(store, vec![confirm(&change, digest(1), secs(60))]).await;
    let stored = confirmed(&change, digest(1), secs(60));
    assert_eq!(by_revert(store, digest(1)).await, Some(stored.clone()));
    assert_eq!(pending(store, laura.id).await, None);

    let again = store
        .commit(vec![
            Change::AppendAudit(fixtures::audit(Some(laura.id), AuditAction::EmailChanged, secs(61))),
            confirm(&change, digest(2), secs(61)),
        ])
        .await;
    assert!(conflict(again), "confirmed already");
    assert_eq!(by_revert(store, digest(1)).await, Some(stored), "the first confirmation stands");
    assert_eq!(by_revert(store, digest(2)).await, None);
    assert_eq!(history(store, &laura, &[AuditAction::EmailChanged]).await.total_count, 0, "nothing appended");
    let absent = EmailChange { id: EmailChangeId::new_v7(), ..change };
    assert!(conflict(store.commit(vec![confirm(&absent, digest(3), secs(62))]).await), "absent");
}

/// `email_change_by_revert` finds the confirmed change whose link has the digest, whoever
/// it belongs to, and nothing for an unknown digest.
pub async fn email_change_by_revert_finds_by_digest<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let ana = insert_user(store, "ana@example.com").await;
    let lauras = move_address(store, &laura, "laura@work.example.com", digest(1), T0).await;
    let anas = move_address(store, &ana, "ana@work.example.com", digest(2), T0).await;
    assert_eq!(by_revert(store, digest(1)).await, Some(lauras));
    assert_eq!(by_revert(store, digest(2)).await, Some(anas));
    assert_eq!(by_revert(store, digest(3)).await, None);
}

/// `ChangeEmail` moves a live account at `from` to `to` (found there, no longer under the old
/// address, which is free again), with `email_verified_at` and `updated_at` set; an account
/// no longer at `from`, absent or soft-deleted fails the commit with `Conflict`.
pub async fn change_email_moves_a_live_account_at_from<S: Store>(store: &S) {
    let laura = fixtures::unverified_user("laura@example.com", T0);
    commit_ok(store, vec![Change::InsertUser(laura.clone())]).await;
    let work = fixtures::email("laura@work.example.com");
    let home = fixtures::email("laura@home.example.com");
    let at = secs(60);
    commit_ok(store, vec![Change::ChangeEmail { user_id: laura.id, from: laura.email.clone(), to: work.clone(), at }])
        .await;
    let moved = User { email: work.clone(), email_verified_at: Some(at), updated_at: at, ..laura.clone() };
    assert_eq!(store.user_by_email(&work).await.expect("read"), Some(moved.clone()));
    assert_eq!(store.user_by_email(&laura.email).await.expect("read"), None, "not under the old address");

    let move_to = |from: &Email, to: &Email, at| {
        vec![
            Change::AppendAudit(fixtures::audit(Some(laura.id), AuditAction::EmailChanged, at)),
            Change::ChangeEmail { user_id: laura.id, from: from.clone(), to: to.clone(), at },
        ]
    };
    assert!(conflict(store.commit(move_to(&laura.email, &home, secs(61))).await), "no longer at from");
    assert_eq!(store.user_by_id(laura.id).await.expect("read"), Some(moved));
    assert_eq!(history(store, &laura, &[AuditAction::EmailChanged]).await.total_count, 0, "nothing appended");
    let absent = Change::ChangeEmail { user_id: UserId::new_v7(), from: work.clone(), to: home.clone(), at };
    assert!(conflict(store.commit(vec![absent]).await), "absent");

    commit_ok(store, vec![Change::SetDeleted { user_id: laura.id, deleted_at: Some(secs(62)), at: secs(62) }]).await;
    assert!(conflict(store.commit(move_to(&work, &home, secs(63))).await), "deleted");
    assert_eq!(store.user_by_email(&home).await.expect("read"), None);
    commit_ok(store, vec![Change::InsertUser(fixtures::user("laura@example.com", secs(64)))]).await;
}

/// `ChangeEmail` to an address another account has, live or soft-deleted, fails the commit
/// with `Conflict` (not `DuplicateEmail`), and the commit's other changes are not applied.
pub async fn change_email_to_a_taken_address_conflicts<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let ana = insert_user(store, "ana@example.com").await;
    let bob = insert_user(store, "bob@example.com").await;
    commit_ok(store, vec![Change::SetDeleted { user_id: bob.id, deleted_at: Some(secs(1)), at: secs(1) }]).await;
    for taken in [&ana, &bob] {
        let result = store
            .commit(vec![
                Change::AppendAudit(fixtures::audit(Some(laura.id), AuditAction::EmailChanged, secs(2))),
                Change::ChangeEmail {
                    user_id: laura.id,
                    from: laura.email.clone(),
                    to: taken.email.clone(),
                    at: secs(2),
                },
            ])
            .await;
        assert!(conflict(result), "{}", taken.email.as_str());
        assert_eq!(store.user_by_id(laura.id).await.expect("read"), Some(laura.clone()));
        let holder = store.user_by_email(&taken.email).await.expect("read").expect("kept");
        assert_eq!(holder.id, taken.id);
    }
    assert_eq!(history(store, &laura, &[AuditAction::EmailChanged]).await.total_count, 0, "nothing appended");
}

/// `RevertEmailChange` marks a confirmed change reverted once (again, or for a pending or
/// absent change, the commit fails with `Conflict` and writes nothing); it ends the links of
/// the account's changes confirmed after it, keeps those confirmed before it and other
/// accounts' changes, and deletes the account's pending change.
pub async fn revert_email_change_works_once_and_ends_later_links<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let ana = insert_user(store, "ana@example.com").await;
    let first = move_address(store, &laura, "laura@a.example.com", digest(1), secs(1)).await;
    let at_a = User { email: first.new_email.clone(), ..laura.clone() };
    let second = move_address(store, &at_a, "laura@b.example.com", digest(2), secs(3)).await;
    let at_b = User { email: second.new_email.clone(), ..laura.clone() };
    let third = move_address(store, &at_b, "laura@c.example.com", digest(3), secs(5)).await;
    let anas = move_address(store, &ana, "ana@work.example.com", digest(4), secs(5)).await;
    let lauras_pending = fixtures::email_change(&laura, "laura@d.example.com", secs(7));
    let anas_pending = fixtures::email_change(&ana, "ana@home.example.com", secs(7));
    let starts = vec![Change::StartEmailChange(lauras_pending), Change::StartEmailChange(anas_pending.clone())];
    commit_ok(store, starts).await;

    let at = secs(8);
    let revert = |at| {
        vec![
            Change::RevertEmailChange { id: second.id, user_id: laura.id, at },
            Change::ChangeEmail { user_id: laura.id, from: third.new_email.clone(), to: second.old_email.clone(), at },
            Change::AppendAudit(fixtures::audit(Some(laura.id), AuditAction::EmailChangeReverted, at)),
        ]
    };
    commit_ok(store, revert(at)).await;
    assert_eq!(by_revert(store, digest(2)).await, Some(EmailChange { reverted_at: Some(at), ..second.clone() }));
    assert_eq!(by_revert(store, digest(1)).await, Some(first.clone()), "confirmed before: kept");
    let ended = EmailChange { revert_expires_at: Some(at), ..third.clone() };
    assert_eq!(by_revert(store, digest(3)).await, Some(ended), "confirmed after: its link ends");
    assert_eq!(by_revert(store, digest(4)).await, Some(anas), "another account's: kept");
    assert_eq!(pending(store, laura.id).await, None, "the pending change goes");
    assert_eq!(pending(store, ana.id).await, Some(anas_pending.clone()));
    let user = store.user_by_id(laura.id).await.expect("read").expect("kept");
    assert_eq!(user.email.as_str(), "laura@a.example.com");

    assert!(conflict(store.commit(revert(secs(9))).await), "reverted already");
    assert_eq!(history(store, &laura, &[AuditAction::EmailChangeReverted]).await.total_count, 1);
    let pending_revert = Change::RevertEmailChange { id: anas_pending.id, user_id: ana.id, at: secs(9) };
    assert!(conflict(store.commit(vec![pending_revert]).await), "pending");
    assert_eq!(pending(store, ana.id).await, Some(anas_pending), "a failed revert deletes nothing");
    let absent = Change::RevertEmailChange { id: EmailChangeId::new_v7(), user_id: laura.id, at: secs(9) };
    assert!(conflict(store.commit(vec![absent]).await), "absent");
    // The later link this revert ended cannot commit any more, nor can another account's id.
    let ended_link = Change::RevertEmailChange { id: third.id, user_id: laura.id, at: secs(9) };
    assert!(conflict(store.commit(vec![ended_link]).await), "a link another reversal ended");
    let foreign = Change::RevertEmailChange { id: first.id, user_id: ana.id, at: secs(9) };
    assert!(conflict(store.commit(vec![foreign]).await), "another account's change");
    let expired = Change::RevertEmailChange {
        id: first.id,
        user_id: laura.id,
        at: secs(1).plus(WINDOW).plus(Duration::from_secs(1)),
    };
    assert!(conflict(store.commit(vec![expired]).await), "past its window");
    assert_eq!(by_revert(store, digest(1)).await.and_then(|c| c.reverted_at), None, "none of them wrote");
}

/// "Confirmed after" is `(confirmed_at, id)` order: of changes confirmed at the same instant,
/// a revert ends the links of those with a greater id only; a link that already ended keeps
/// its end, and a reverted change its link.
pub async fn revert_email_change_orders_by_confirmation_then_id<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let mut ids: Vec<EmailChangeId> = (0..5).map(|_| EmailChangeId::new_v7()).collect();
    ids.sort();
    let confirmed_at = secs(2);
    let changes: Vec<EmailChange> = ids
        .iter()
        .enumerate()
        .map(|(n, &id)| EmailChange { id, ..fixtures::email_change(&laura, &format!("laura{n}@example.com"), secs(1)) })
        .collect();
    // Each start replaces the pending one: confirm them one by one. The link of the fourth
    // ends before the reverts.
    for (n, change) in (0u8..).zip(&changes) {
        let revert_expires_at = if n == 3 { secs(3) } else { confirmed_at.plus(WINDOW) };
        let confirmation =
            Change::ConfirmEmailChange { id: change.id, revert_digest: digest(n), revert_expires_at, at: confirmed_at };
        commit_ok(store, vec![Change::StartEmailChange(change.clone()), confirmation]).await;
    }
    commit_ok(store, vec![Change::RevertEmailChange { id: changes[4].id, user_id: laura.id, at: secs(4) }]).await;
    commit_ok(store, vec![Change::RevertEmailChange { id: changes[1].id, user_id: laura.id, at: secs(5) }]).await;

    let mut ends = Vec::new();
    for n in 0..5 {
        let change = by_revert(store, digest(n)).await.expect("kept");
        ends.push((change.revert_expires_at, change.reverted_at));
    }
    let window_end = Some(confirmed_at.plus(WINDOW));
    assert_eq!(
        ends,
        [
            (window_end, None),
            (window_end, Some(secs(5))),
            (Some(secs(5)), None),
            (Some(secs(3)), None),
            (window_end, Some(secs(4))),
        ]
    );
}

/// `email_reserved_for_revert` holds for the old address of a confirmed change while its
/// link works (`now` before `revert_expires_at`), and not for its new address, a pending
/// change's old address, an expired link or a reverted change.
pub async fn email_reserved_for_revert_holds_while_the_link_works<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let moved = move_address(store, &laura, "laura@work.example.com", digest(1), T0).await;
    let at_work = User { email: moved.new_email.clone(), ..laura.clone() };
    let next = fixtures::email_change(&at_work, "laura@home.example.com", secs(2));
    commit_ok(store, vec![Change::StartEmailChange(next)]).await;

    let end = secs(1).plus(WINDOW);
    assert!(reserved(store, "laura@example.com", secs(1)).await);
    assert!(reserved(store, "laura@example.com", end.minus(Duration::from_millis(1))).await);
    assert!(!reserved(store, "laura@example.com", end).await, "the window is half-open");
    assert!(!reserved(store, "laura@work.example.com", secs(2)).await, "the new address, pending's old one");
    assert!(!reserved(store, "ana@example.com", secs(2)).await);

    commit_ok(store, vec![Change::RevertEmailChange { id: moved.id, user_id: laura.id, at: secs(3) }]).await;
    assert!(!reserved(store, "laura@example.com", secs(3)).await, "reverted");
}

/// `EraseAccountData` deletes the account's address changes, pending and confirmed (they
/// hold addresses), and no other account's.
pub async fn erasure_deletes_email_changes<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let ana = insert_user(store, "ana@example.com").await;
    let lauras = move_address(store, &laura, "laura@work.example.com", digest(1), T0).await;
    let anas = move_address(store, &ana, "ana@work.example.com", digest(2), T0).await;
    let at_work = User { email: lauras.new_email.clone(), ..laura.clone() };
    let anas_pending = fixtures::email_change(&ana, "ana@home.example.com", secs(2));
    commit_ok(
        store,
        vec![
            Change::StartEmailChange(fixtures::email_change(&at_work, "laura@home.example.com", secs(2))),
            Change::StartEmailChange(anas_pending.clone()),
        ],
    )
    .await;

    commit_ok(store, vec![Change::EraseAccountData { user_id: laura.id, email: Some(at_work.email.clone()) }]).await;
    assert_eq!(pending(store, laura.id).await, None);
    assert_eq!(by_revert(store, digest(1)).await, None);
    assert!(!reserved(store, "laura@example.com", secs(3)).await);
    assert_eq!(pending(store, ana.id).await, Some(anas_pending));
    assert_eq!(by_revert(store, digest(2)).await, Some(anas));
}

/// Accounts racing to one address: of each round's commits (the move and an audit entry)
/// exactly one succeeds and the others fail with `Conflict`, appending nothing.
pub async fn change_email_to_one_address_is_race_free<S: Store>(store: &S) {
    const ROUNDS: u64 = 12;
    const RACERS: usize = 4;
    for round in 0..ROUNDS {
        let mut racers = Vec::new();
        for n in 0..RACERS {
            racers.push(insert_user(store, &format!("racer{round}.{n}@example.com")).await);
        }
        let target = fixtures::email(&format!("wanted{round}@example.com"));
        let at = secs(round);
        let commits = racers.iter().map(|user| {
            store.commit(vec![
                Change::ChangeEmail { user_id: user.id, from: user.email.clone(), to: target.clone(), at },
                Change::AppendAudit(fixtures::audit(Some(user.id), AuditAction::EmailChanged, at)),
            ])
        });
        let results = join_all(commits).await;
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "round {round}: {results:?}");
        assert!(results.iter().all(|r| matches!(r, Ok(_) | Err(StoreError::Conflict))), "{results:?}");
        let winner = results.iter().position(Result::is_ok).expect("one won");
        let holder = store.user_by_email(&target).await.expect("read").expect("moved");
        assert_eq!(holder.id, racers[winner].id, "round {round}");
        let mut entries = 0;
        for user in &racers {
            entries += history(store, user, &[AuditAction::EmailChanged]).await.total_count;
        }
        assert_eq!(entries, 1, "round {round}");
    }
}

/// Racing moves of one account (each from the address it read) move it once, and racing
/// clicks on one revert link revert once.
pub async fn one_account_moves_and_reverts_once_under_races<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let moves = (0..8).map(|n| {
        let to = fixtures::email(&format!("laura{n}@example.com"));
        store.commit(vec![Change::ChangeEmail { user_id: laura.id, from: laura.email.clone(), to, at: secs(1) }])
    });
    let results = join_all(moves).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    assert!(results.iter().all(|r| matches!(r, Ok(_) | Err(StoreError::Conflict))), "{results:?}");

    let ana = insert_user(store, "ana@example.com").await;
    let moved = move_address(store, &ana, "ana@work.example.com", digest(1), secs(2)).await;
    let reverts = (0..8).map(|_| {
        store.commit(vec![
            Change::RevertEmailChange { id: moved.id, user_id: ana.id, at: secs(4) },
            Change::AppendAudit(fixtures::audit(Some(ana.id), AuditAction::EmailChangeReverted, secs(4))),
        ])
    });
    let results = join_all(reverts).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    assert!(results.iter().all(|r| matches!(r, Ok(_) | Err(StoreError::Conflict))), "{results:?}");
    assert_eq!(history(store, &ana, &[AuditAction::EmailChangeReverted]).await.total_count, 1);
}
