//! Second factors: round trips, the guarded writes that make a TOTP step and a recovery code
//! work once (also when twenty requests race), removals, and challenges found by digest.

use std::time::Duration;

use futures_util::future::join_all;
use portcullis_domain::model::{
    AuditAction, CodePurpose, Factor, FactorName, SecretDigest, StoredRecoveryCode, TotpStep, User,
};
use portcullis_domain::ports::{Change, Store, StoreError};

use super::{T0, commit_ok, history, insert_user};
use crate::fixtures::{audit, code, factor, session};

/// How many requests the race cases run at once (the twenty).
const RACERS: usize = 20;

/// The step every case confirms its factor at.
const STEP: TotpStep = TotpStep(58_000_000);

/// `count` distinct digests, numbered from `from`.
fn digests(from: u8, count: u8) -> Vec<SecretDigest> {
    (from..from + count).map(|n| SecretDigest::new(vec![n; 32])).collect()
}

/// Inserts a factor of `user` and confirms it at [`STEP`]; returns it as stored.
async fn active_factor<S: Store>(store: &S, user: &User) -> Factor {
    let f = factor(user, T0);
    commit_ok(
        store,
        vec![Change::InsertFactor(f.clone()), Change::ConfirmFactor { factor_id: f.id, step: STEP, at: T0 }],
    )
    .await;
    Factor { confirmed_at: Some(T0), last_used_step: Some(STEP), ..f }
}

/// Unused recovery codes of `user`, sorted by digest.
async fn unused_codes<S: Store>(store: &S, user: &User) -> Vec<SecretDigest> {
    let mut unused: Vec<SecretDigest> = store
        .recovery_codes(user.id)
        .await
        .expect("recovery_codes")
        .into_iter()
        .filter(|c| c.used_at.is_none())
        .map(|c| c.digest)
        .collect();
    unused.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    unused
}

/// Factors read back field for field, oldest first, pending and active alike, and only the
/// owner's.
pub async fn factors_round_trip<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let ana = insert_user(store, "ana@example.com").await;
    let mut used = factor(&laura, T0);
    used.name = FactorName::parse("Téléphone de Laura").expect("name");
    used.confirmed_at = Some(T0.plus(Duration::from_millis(1_001)));
    used.last_used_step = Some(TotpStep(u64::from(u32::MAX) + 7));
    used.last_used_at = Some(T0.plus(Duration::from_millis(90_003)));
    let pending = factor(&laura, T0.plus(Duration::from_secs(1)));
    let others = factor(&ana, T0);
    commit_ok(
        store,
        vec![
            Change::InsertFactor(pending.clone()),
            Change::InsertFactor(used.clone()),
            Change::InsertFactor(others.clone()),
        ],
    )
    .await;
    assert_eq!(store.factors(laura.id).await.expect("factors"), vec![used, pending]);
    assert_eq!(store.factors(ana.id).await.expect("factors"), vec![others]);
}

/// `ConfirmFactor` activates a pending factor once, recording the confirming step; a second
/// confirmation and an absent factor are a `Conflict`, with nothing of the commit applied.
pub async fn confirm_factor_works_once<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let f = factor(&laura, T0);
    commit_ok(store, vec![Change::InsertFactor(f.clone())]).await;
    let at = T0.plus(Duration::from_secs(5));
    commit_ok(store, vec![Change::ConfirmFactor { factor_id: f.id, step: STEP, at }]).await;
    let stored = store.factors(laura.id).await.expect("factors");
    assert_eq!(stored, vec![Factor { confirmed_at: Some(at), last_used_step: Some(STEP), ..f.clone() }]);
    assert!(stored[0].is_active());

    let again = store
        .commit(vec![
            Change::AppendAudit(audit(Some(laura.id), AuditAction::LoginSuccess, T0)),
            Change::ConfirmFactor { factor_id: f.id, step: TotpStep(STEP.0 + 1), at },
        ])
        .await;
    assert!(matches!(again, Err(StoreError::Conflict)), "{again:?}");
    let absent = factor(&laura, T0);
    let err = store.commit(vec![Change::ConfirmFactor { factor_id: absent.id, step: STEP, at }]).await;
    assert!(matches!(err, Err(StoreError::Conflict)), "{err:?}");
    assert_eq!(store.factors(laura.id).await.expect("factors")[0].last_used_step, Some(STEP));
    assert_eq!(history(store, &laura, &[AuditAction::LoginSuccess]).await.total_count, 0);
}

/// `UseTotpStep` takes only a later step than the last one, on an active factor: the
/// confirming step, an earlier one, a pending factor and an absent one are a `Conflict`.
pub async fn use_totp_step_only_moves_forward<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let f = active_factor(store, &laura).await;
    let at = T0.plus(Duration::from_secs(60));
    for refused in [STEP, TotpStep(STEP.0 - 1)] {
        let err = store.commit(vec![Change::UseTotpStep { factor_id: f.id, step: refused, at }]).await;
        assert!(matches!(err, Err(StoreError::Conflict)), "step {refused:?}: {err:?}");
    }
    let next = TotpStep(STEP.0 + 1);
    commit_ok(store, vec![Change::UseTotpStep { factor_id: f.id, step: next, at }]).await;
    let stored = store.factors(laura.id).await.expect("factors");
    assert_eq!(stored, vec![Factor { last_used_step: Some(next), last_used_at: Some(at), ..f.clone() }]);
    let replay = store.commit(vec![Change::UseTotpStep { factor_id: f.id, step: next, at }]).await;
    assert!(matches!(replay, Err(StoreError::Conflict)), "{replay:?}");

    let pending = factor(&laura, T0);
    commit_ok(store, vec![Change::InsertFactor(pending.clone())]).await;
    let err = store.commit(vec![Change::UseTotpStep { factor_id: pending.id, step: next, at }]).await;
    assert!(matches!(err, Err(StoreError::Conflict)), "{err:?}");
    let absent = factor(&laura, T0);
    let err = store.commit(vec![Change::UseTotpStep { factor_id: absent.id, step: next, at }]).await;
    assert!(matches!(err, Err(StoreError::Conflict)), "{err:?}");
}

/// Twenty sign-ins with one code at once: exactly one commits its session, the others
/// conflict and leave nothing behind.
pub async fn use_totp_step_is_race_free<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let f = active_factor(store, &laura).await;
    let next = TotpStep(STEP.0 + 1);
    let commits = (0..RACERS).map(|_| {
        store.commit(vec![
            Change::UseTotpStep { factor_id: f.id, step: next, at: T0 },
            Change::InsertSession(session(&laura, T0)),
            Change::AppendAudit(audit(Some(laura.id), AuditAction::LoginSuccess, T0)),
        ])
    });
    let results = join_all(commits).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    assert!(results.iter().all(|r| matches!(r, Ok(_) | Err(StoreError::Conflict))), "{results:?}");
    assert_eq!(store.live_sessions(laura.id, T0).await.expect("sessions").len(), 1);
    assert_eq!(history(store, &laura, &[AuditAction::LoginSuccess]).await.total_count, 1);
}

/// `ReplaceRecoveryCodes` replaces the whole set, used codes included, of that user only.
pub async fn replace_recovery_codes_replaces_the_set<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let ana = insert_user(store, "ana@example.com").await;
    let first = digests(0, 10);
    commit_ok(
        store,
        vec![
            Change::ReplaceRecoveryCodes { user_id: laura.id, digests: first.clone(), at: T0 },
            Change::ReplaceRecoveryCodes { user_id: ana.id, digests: digests(0, 10), at: T0 },
        ],
    )
    .await;
    assert_eq!(unused_codes(store, &laura).await, first);
    let used_at = T0.plus(Duration::from_secs(3));
    commit_ok(store, vec![Change::SpendRecoveryCode { user_id: laura.id, digest: first[4].clone(), at: used_at }])
        .await;
    let codes = store.recovery_codes(laura.id).await.expect("codes");
    assert_eq!(codes.len(), 10);
    assert_eq!(
        codes.iter().filter(|c| c.used_at.is_some()).collect::<Vec<_>>(),
        vec![&StoredRecoveryCode { digest: first[4].clone(), used_at: Some(used_at) }]
    );

    let second = digests(100, 10);
    commit_ok(store, vec![Change::ReplaceRecoveryCodes { user_id: laura.id, digests: second.clone(), at: used_at }])
        .await;
    assert_eq!(store.recovery_codes(laura.id).await.expect("codes").len(), 10);
    assert_eq!(unused_codes(store, &laura).await, second);
    assert_eq!(unused_codes(store, &ana).await, digests(0, 10));
}

/// `SpendRecoveryCode` works once; a used code, an unknown one and another user's are a
/// `Conflict`.
pub async fn spend_recovery_code_works_once<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let ana = insert_user(store, "ana@example.com").await;
    commit_ok(
        store,
        vec![
            Change::ReplaceRecoveryCodes { user_id: laura.id, digests: digests(0, 10), at: T0 },
            Change::ReplaceRecoveryCodes { user_id: ana.id, digests: digests(50, 10), at: T0 },
        ],
    )
    .await;
    let spend = |user: &User, digest: SecretDigest| {
        store.commit(vec![Change::SpendRecoveryCode { user_id: user.id, digest, at: T0 }])
    };
    assert!(spend(&laura, digests(3, 1).remove(0)).await.is_ok());
    for (who, digest) in [(&laura, digests(3, 1)), (&laura, digests(200, 1)), (&laura, digests(50, 1))] {
        let err = spend(who, digest[0].clone()).await;
        assert!(matches!(err, Err(StoreError::Conflict)), "{err:?}");
    }
    assert_eq!(unused_codes(store, &laura).await.len(), 9);
    assert_eq!(unused_codes(store, &ana).await.len(), 10);
}

/// Twenty sign-ins with one recovery code at once: exactly one commits.
pub async fn spend_recovery_code_is_race_free<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    commit_ok(store, vec![Change::ReplaceRecoveryCodes { user_id: laura.id, digests: digests(0, 10), at: T0 }]).await;
    let digest = digests(7, 1).remove(0);
    let commits = (0..RACERS).map(|_| {
        store.commit(vec![
            Change::SpendRecoveryCode { user_id: laura.id, digest: digest.clone(), at: T0 },
            Change::InsertSession(session(&laura, T0)),
        ])
    });
    let results = join_all(commits).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    assert!(results.iter().all(|r| matches!(r, Ok(_) | Err(StoreError::Conflict))), "{results:?}");
    assert_eq!(store.live_sessions(laura.id, T0).await.expect("sessions").len(), 1);
    assert_eq!(unused_codes(store, &laura).await.len(), 9);
}

/// `DeleteFactor` removes one factor of its owner; the recovery codes stay while an active
/// factor remains and go with the last one. Another user's id is a no-op.
pub async fn delete_factor_takes_the_codes_with_the_last_active_one<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let ana = insert_user(store, "ana@example.com").await;
    let phone = active_factor(store, &laura).await;
    let tablet = active_factor(store, &laura).await;
    let pending = factor(&laura, T0);
    commit_ok(
        store,
        vec![
            Change::InsertFactor(pending.clone()),
            Change::ReplaceRecoveryCodes { user_id: laura.id, digests: digests(0, 10), at: T0 },
        ],
    )
    .await;

    commit_ok(store, vec![Change::DeleteFactor { user_id: ana.id, factor_id: phone.id }]).await;
    assert_eq!(store.factors(laura.id).await.expect("factors").len(), 3, "another user's id deletes nothing");
    commit_ok(store, vec![Change::DeleteFactor { user_id: laura.id, factor_id: phone.id }]).await;
    assert_eq!(unused_codes(store, &laura).await.len(), 10, "an active factor remains");
    commit_ok(store, vec![Change::DeleteFactor { user_id: laura.id, factor_id: tablet.id }]).await;
    assert_eq!(store.factors(laura.id).await.expect("factors"), vec![pending], "the pending factor stays");
    assert!(store.recovery_codes(laura.id).await.expect("codes").is_empty());
}

/// The last two active factors removed at once: both removals commit and no recovery code
/// is left behind (each must see the other's deletion).
pub async fn delete_factors_racing_leave_no_codes<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    for round in 0..5 {
        let phone = active_factor(store, &laura).await;
        let tablet = active_factor(store, &laura).await;
        commit_ok(store, vec![Change::ReplaceRecoveryCodes { user_id: laura.id, digests: digests(0, 10), at: T0 }])
            .await;
        let results = join_all(
            [phone.id, tablet.id]
                .map(|factor_id| store.commit(vec![Change::DeleteFactor { user_id: laura.id, factor_id }])),
        )
        .await;
        assert!(results.iter().all(Result::is_ok), "round {round}: {results:?}");
        assert!(store.factors(laura.id).await.expect("factors").is_empty(), "round {round}");
        assert!(store.recovery_codes(laura.id).await.expect("codes").is_empty(), "round {round}");
    }
}

/// `DeleteUserFactors` removes every factor and recovery code of that user, and nobody else's.
pub async fn delete_user_factors_clears_only_that_user<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let ana = insert_user(store, "ana@example.com").await;
    active_factor(store, &laura).await;
    let anas = active_factor(store, &ana).await;
    commit_ok(
        store,
        vec![
            Change::InsertFactor(factor(&laura, T0)),
            Change::ReplaceRecoveryCodes { user_id: laura.id, digests: digests(0, 10), at: T0 },
            Change::ReplaceRecoveryCodes { user_id: ana.id, digests: digests(0, 10), at: T0 },
        ],
    )
    .await;
    commit_ok(store, vec![Change::DeleteUserFactors { user_id: laura.id }]).await;
    assert!(store.factors(laura.id).await.expect("factors").is_empty());
    assert!(store.recovery_codes(laura.id).await.expect("codes").is_empty());
    assert_eq!(store.factors(ana.id).await.expect("factors"), vec![anas]);
    assert_eq!(unused_codes(store, &ana).await.len(), 10);
}

/// `ExpectNoSecondFactor` passes with no factor or a pending one, and fails the whole commit
/// with `Conflict` once a factor is active.
pub async fn expect_no_second_factor_stops_a_password_only_commit<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let ana = insert_user(store, "ana@example.com").await;
    commit_ok(store, vec![Change::ExpectNoSecondFactor { user_id: laura.id }]).await;
    commit_ok(store, vec![Change::InsertFactor(factor(&laura, T0))]).await;
    commit_ok(
        store,
        vec![Change::InsertSession(session(&laura, T0)), Change::ExpectNoSecondFactor { user_id: laura.id }],
    )
    .await;
    active_factor(store, &ana).await;
    active_factor(store, &laura).await;
    let err = store
        .commit(vec![
            Change::InsertSession(session(&laura, T0)),
            Change::AppendAudit(audit(Some(laura.id), AuditAction::LoginSuccess, T0)),
            Change::ExpectNoSecondFactor { user_id: laura.id },
        ])
        .await;
    assert!(matches!(err, Err(StoreError::Conflict)), "{err:?}");
    assert_eq!(store.live_sessions(laura.id, T0).await.expect("sessions").len(), 1);
    assert_eq!(history(store, &laura, &[AuditAction::LoginSuccess]).await.total_count, 0);
}

/// A password-only sign-in and the confirmation of the account's first factor, racing: the
/// sign-in either fails or commits a session that the confirmation's "revoke the other
/// sessions" then revokes. Never a live password-only session next to an active factor.
pub async fn expect_no_second_factor_is_ordered_with_a_confirmation<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let activate = |id| Change::ConfirmFactor { factor_id: id, step: STEP, at: T0 };
    login_races_activation(store, &laura, || factor(&laura, T0), activate).await;
}

/// [`RACERS`] rounds of a password-only login committed at once with the activation (made
/// by `activate`) of a pending factor made by `pending` and the revocation of every session:
/// either the login sees the factor (a `Conflict`), or the revocation sees its session.
pub(super) async fn login_races_activation<S: Store>(
    store: &S,
    laura: &User,
    pending: impl Fn() -> Factor,
    activate: impl Fn(portcullis_domain::model::FactorId) -> Change,
) {
    for round in 0..RACERS {
        let pending = pending();
        commit_ok(store, vec![Change::InsertFactor(pending.clone())]).await;
        let login = session(laura, T0);
        let (signed_in, confirmed) = futures_util::future::join(
            store
                .commit(vec![Change::InsertSession(login.clone()), Change::ExpectNoSecondFactor { user_id: laura.id }]),
            store.commit(vec![
                activate(pending.id),
                Change::RevokeUserSessions { user_id: laura.id, except: None, at: T0 },
            ]),
        )
        .await;
        assert!(confirmed.is_ok(), "round {round}: {confirmed:?}");
        match signed_in {
            Err(StoreError::Conflict) => {}
            Ok(_) => {
                let live = store.live_sessions(laura.id, T0).await.expect("sessions");
                assert!(live.iter().all(|s| s.id != login.id), "round {round}: a password-only session outlived");
            }
            Err(e) => panic!("round {round}: {e:?}"),
        }
        commit_ok(store, vec![Change::DeleteUserFactors { user_id: laura.id }]).await;
    }
}

/// Challenges are codes found by digest: `InsertCode` keeps the user's other challenges,
/// a mailed code is not one, and the try counter and single use work on them as on every
/// code.
pub async fn mfa_challenges_are_found_by_digest<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let first = code(&laura, CodePurpose::MfaChallenge, "token-one", T0);
    let second = code(&laura, CodePurpose::MfaChallenge, "token-two", T0);
    let mailed = code(&laura, CodePurpose::VerifyEmail, "token-three", T0);
    commit_ok(
        store,
        vec![
            Change::InsertCode(first.clone()),
            Change::InsertCode(second.clone()),
            Change::ReplaceCode(mailed.clone()),
        ],
    )
    .await;
    assert_eq!(store.mfa_challenge(first.digest.clone()).await.expect("read"), Some(first.clone()));
    assert_eq!(store.mfa_challenge(second.digest.clone()).await.expect("read"), Some(second.clone()));
    assert_eq!(store.mfa_challenge(mailed.digest.clone()).await.expect("read"), None);
    assert_eq!(store.mfa_challenge(SecretDigest::new(vec![9; 32])).await.expect("read"), None);

    assert_eq!(store.count_code_attempt(first.id, 5).await.expect("count"), Some(1));
    commit_ok(store, vec![Change::ConsumeCode { id: first.id, at: T0 }]).await;
    let read = store.mfa_challenge(first.digest.clone()).await.expect("read").expect("still found");
    assert_eq!((read.attempts, read.consumed_at), (1, Some(T0)));
    let again = store.commit(vec![Change::ConsumeCode { id: first.id, at: T0 }]).await;
    assert!(matches!(again, Err(StoreError::Conflict)), "{again:?}");
}

/// Housekeeping deletes pending factors created before the cut-off, and nothing else.
pub async fn purge_pending_factors_keeps_active_and_recent_ones<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let cutoff = T0.plus(Duration::from_secs(600));
    let active = active_factor(store, &laura).await;
    let stale = factor(&laura, T0);
    let recent = factor(&laura, cutoff);
    commit_ok(store, vec![Change::InsertFactor(stale), Change::InsertFactor(recent.clone())]).await;
    assert_eq!(store.purge_pending_factors(cutoff).await.expect("purge"), 1);
    assert_eq!(store.factors(laura.id).await.expect("factors"), vec![active, recent]);
}
