//! Passkeys: round trips, the unique credential id, the counter-guarded sign-in write, the
//! cascade from their factor, and ceremonies handed out once (also when twenty race).

use std::time::Duration;

use futures_util::future::join_all;
use portcullis_domain::model::{
    AuditAction, CeremonyPurpose, CredentialId, Factor, FactorId, FactorName, Passkey, PasskeyCredential, SecretDigest,
};
use portcullis_domain::ports::{Change, Store, StoreError};

use super::{T0, commit_ok, history, insert_user};
use crate::fixtures::{audit, ceremony, passkey, session};

/// How many requests the race cases run at once (the twenty).
const RACERS: usize = 20;

fn digest(n: u8) -> SecretDigest {
    SecretDigest::new(vec![n; 32])
}

/// Passkeys read back field for field, oldest first, only the owner's; found by credential
/// id whoever owns them.
pub async fn passkeys_round_trip<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let ana = insert_user(store, "ana@example.com").await;
    let (later_factor, mut later) = passkey(&laura, T0.plus(Duration::from_secs(5)), &[9; 64]);
    later.sign_count = u32::MAX;
    later.user_verified = false;
    later.backed_up = true;
    later.disabled_at = Some(T0.plus(Duration::from_millis(7_003)));
    later.credential = PasskeyCredential("{\"cred\":\"é\"}".into());
    let (first_factor, first) = passkey(&laura, T0, &[1; 16]);
    let (theirs_factor, theirs) = passkey(&ana, T0, &[2; 1023]);
    commit_ok(
        store,
        vec![
            Change::InsertFactor(later_factor.clone()),
            Change::InsertPasskey(later.clone()),
            Change::InsertFactor(first_factor.clone()),
            Change::InsertPasskey(first.clone()),
            Change::InsertFactor(theirs_factor),
            Change::InsertPasskey(theirs.clone()),
        ],
    )
    .await;
    assert_eq!(store.passkeys(laura.id).await.expect("passkeys"), vec![first.clone(), later.clone()]);
    assert_eq!(store.passkey(theirs.credential_id.clone()).await.expect("passkey"), Some(theirs));
    assert_eq!(store.passkey(later.credential_id.clone()).await.expect("passkey"), Some(later));
    let unknown = CredentialId::new(vec![3; 16]).expect("id");
    assert_eq!(store.passkey(unknown).await.expect("passkey"), None);
    // The factor row says what kind it is; its name and dates live there.
    let factors = store.factors(laura.id).await.expect("factors");
    assert_eq!(factors[0], first_factor);
    assert_eq!(factors[1].name, FactorName::parse("Laptop").expect("name"));
}

/// One credential id signs one account in: registering it again, on another account or
/// the same, is a `Conflict` with nothing of the commit applied, and of twenty accounts
/// racing for one id, one gets it.
pub async fn a_credential_id_is_registered_once<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let ana = insert_user(store, "ana@example.com").await;
    let (f, p) = passkey(&laura, T0, &[5; 32]);
    commit_ok(store, vec![Change::InsertFactor(f), Change::InsertPasskey(p)]).await;
    let (f, p) = passkey(&ana, T0, &[5; 32]);
    let again = store
        .commit(vec![
            Change::InsertFactor(f),
            Change::InsertPasskey(p),
            Change::AppendAudit(audit(Some(ana.id), AuditAction::MfaFactorEnrolled, T0)),
        ])
        .await;
    assert!(matches!(again, Err(StoreError::Conflict)), "{again:?}");
    assert!(store.factors(ana.id).await.expect("factors").is_empty());
    assert_eq!(history(store, &ana, &[AuditAction::MfaFactorEnrolled]).await.total_count, 0);

    let mut users = Vec::new();
    for n in 0..RACERS {
        users.push(insert_user(store, &format!("racer{n}@example.com")).await);
    }
    let commits = users.iter().map(|user| {
        let (f, p) = passkey(user, T0, &[6; 32]);
        store.commit(vec![Change::InsertFactor(f), Change::InsertPasskey(p)])
    });
    let results = join_all(commits).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    assert!(results.iter().all(|r| matches!(r, Ok(_) | Err(StoreError::Conflict))), "{results:?}");
    let mut owners = 0;
    for user in &users {
        owners += store.passkeys(user.id).await.expect("passkeys").len();
    }
    assert_eq!(owners, 1);
}

/// The use of a passkey built on the counter it was checked against.
fn used(p: &Passkey, seen_count: u32, sign_count: u32, at_secs: u64) -> Change {
    Change::UsePasskey {
        factor_id: p.factor_id,
        seen_count,
        sign_count,
        credential: PasskeyCredential(format!("{{\"counter\":{sign_count}}}")),
        backed_up: true,
        at: T0.plus(Duration::from_secs(at_secs)),
    }
}

/// `UsePasskey` stores the new counter, record, backup state and the factor's
/// `last_used_at`, once per counter value; a disabled passkey, or a counter someone else
/// moved, is a `Conflict` with nothing applied.
pub async fn use_passkey_moves_the_counter_once<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let (f, p) = passkey(&laura, T0, &[7; 32]);
    commit_ok(store, vec![Change::InsertFactor(f.clone()), Change::InsertPasskey(p.clone())]).await;
    commit_ok(store, vec![used(&p, 0, 4, 60)]).await;
    let stored = store.passkey(p.credential_id.clone()).await.expect("read").expect("passkey");
    assert_eq!((stored.sign_count, stored.backed_up), (4, true));
    assert_eq!(stored.credential, PasskeyCredential("{\"counter\":4}".into()));
    let factor = store.factors(laura.id).await.expect("factors").remove(0);
    assert_eq!(factor.last_used_at, Some(T0.plus(Duration::from_secs(60))));

    // Checked against the old counter: someone got there first.
    let stale = store.commit(vec![used(&p, 0, 5, 61), Change::InsertSession(session(&laura, T0))]).await;
    assert!(matches!(stale, Err(StoreError::Conflict)), "{stale:?}");
    assert!(store.live_sessions(laura.id, T0).await.expect("sessions").is_empty());

    commit_ok(store, vec![Change::DisablePasskey { factor_id: p.factor_id, at: T0.plus(Duration::from_secs(62)) }])
        .await;
    // A second disabling keeps the first time.
    commit_ok(store, vec![Change::DisablePasskey { factor_id: p.factor_id, at: T0.plus(Duration::from_secs(99)) }])
        .await;
    let disabled = store.passkey(p.credential_id.clone()).await.expect("read").expect("passkey");
    assert_eq!(disabled.disabled_at, Some(T0.plus(Duration::from_secs(62))));
    let refused = store.commit(vec![used(&p, 4, 5, 63)]).await;
    assert!(matches!(refused, Err(StoreError::Conflict)), "{refused:?}");
    // Still the account's factor: a password alone does not sign in.
    let password_only = store.commit(vec![Change::ExpectNoSecondFactor { user_id: laura.id }]).await;
    assert!(matches!(password_only, Err(StoreError::Conflict)), "{password_only:?}");
}

/// Twenty sign-ins checked against one counter: one session.
pub async fn use_passkey_is_race_free<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let (f, p) = passkey(&laura, T0, &[8; 32]);
    commit_ok(store, vec![Change::InsertFactor(f), Change::InsertPasskey(p.clone())]).await;
    let commits = (0..RACERS).map(|n| {
        store.commit(vec![
            used(&p, 0, 1 + u32::try_from(n).expect("small"), 1),
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

/// A passkey goes with its factor: removed one by one or all at once.
pub async fn deleting_a_factor_deletes_its_passkey<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let (f1, p1) = passkey(&laura, T0, &[10; 32]);
    let (f2, p2) = passkey(&laura, T0.plus(Duration::from_secs(1)), &[11; 32]);
    commit_ok(
        store,
        vec![
            Change::InsertFactor(f1.clone()),
            Change::InsertPasskey(p1.clone()),
            Change::InsertFactor(f2),
            Change::InsertPasskey(p2.clone()),
        ],
    )
    .await;
    commit_ok(store, vec![Change::DeleteFactor { user_id: laura.id, factor_id: f1.id }]).await;
    assert_eq!(store.passkeys(laura.id).await.expect("passkeys"), vec![p2.clone()]);
    assert_eq!(store.passkey(p1.credential_id.clone()).await.expect("passkey"), None);
    commit_ok(store, vec![Change::DeleteUserFactors { user_id: laura.id }]).await;
    assert!(store.passkeys(laura.id).await.expect("passkeys").is_empty());
    // The credential can be registered again (on a new account, say).
    let ana = insert_user(store, "ana@example.com").await;
    let (f, p) = passkey(&ana, T0, &[11; 32]);
    commit_ok(store, vec![Change::InsertFactor(f), Change::InsertPasskey(p)]).await;
}

/// A ceremony comes back field for field, once; an expired one never, and it is gone.
pub async fn take_ceremony_hands_it_out_once<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let mut bound = ceremony(digest(1), CeremonyPurpose::SecondFactor, Some(laura.id), T0);
    bound.binding = Some(digest(9));
    let open = ceremony(digest(2), CeremonyPurpose::SignIn, None, T0);
    commit_ok(store, vec![Change::InsertCeremony(bound.clone()), Change::InsertCeremony(open.clone())]).await;
    assert_eq!(store.take_ceremony(digest(1), T0).await.expect("take"), Some(bound));
    assert_eq!(store.take_ceremony(digest(1), T0).await.expect("take"), None);
    assert_eq!(store.take_ceremony(digest(3), T0).await.expect("take"), None);
    // Expired: refused, and not found later either.
    assert_eq!(store.take_ceremony(digest(2), open.expires_at).await.expect("take"), None);
    assert_eq!(store.take_ceremony(digest(2), T0).await.expect("take"), None);
}

/// Twenty takers of one ceremony: one gets it.
pub async fn take_ceremony_is_race_free<S: Store>(store: &S) {
    let registration = ceremony(digest(4), CeremonyPurpose::Registration, None, T0);
    commit_ok(store, vec![Change::InsertCeremony(registration)]).await;
    let results = join_all((0..RACERS).map(|_| store.take_ceremony(digest(4), T0))).await;
    let taken = results.iter().filter(|r| matches!(r, Ok(Some(_)))).count();
    assert_eq!(taken, 1, "{results:?}");
    assert!(results.iter().all(Result::is_ok), "{results:?}");
}

/// Housekeeping removes expired ceremonies only.
pub async fn purge_expired_ceremonies_keeps_live_ones<S: Store>(store: &S) {
    let old = ceremony(digest(5), CeremonyPurpose::SignIn, None, T0);
    let fresh = ceremony(digest(6), CeremonyPurpose::SignIn, None, T0.plus(Duration::from_secs(600)));
    commit_ok(store, vec![Change::InsertCeremony(old.clone()), Change::InsertCeremony(fresh.clone())]).await;
    assert_eq!(store.purge_expired_ceremonies(old.expires_at.plus(Duration::from_secs(1))).await.expect("purge"), 1);
    let now = T0.plus(Duration::from_secs(601));
    assert_eq!(store.take_ceremony(digest(5), T0).await.expect("take"), None);
    assert_eq!(store.take_ceremony(digest(6), now).await.expect("take"), Some(fresh));
}

/// `ActivateFactor` activates a pending factor once; an active or absent one is a
/// `Conflict` with nothing of the commit applied.
pub async fn activate_factor_works_once<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let (f, _) = passkey(&laura, T0, &[12; 32]);
    let pending = Factor { confirmed_at: None, ..f };
    commit_ok(store, vec![Change::InsertFactor(pending.clone())]).await;
    let at = T0.plus(Duration::from_secs(3));
    commit_ok(store, vec![Change::ActivateFactor { factor_id: pending.id, at }]).await;
    assert_eq!(store.factors(laura.id).await.expect("factors")[0].confirmed_at, Some(at));
    let again = store
        .commit(vec![Change::ActivateFactor { factor_id: pending.id, at }, Change::InsertSession(session(&laura, T0))])
        .await;
    assert!(matches!(again, Err(StoreError::Conflict)), "{again:?}");
    assert!(store.live_sessions(laura.id, T0).await.expect("sessions").is_empty());
    let absent = store.commit(vec![Change::ActivateFactor { factor_id: FactorId::new_v7(), at }]).await;
    assert!(matches!(absent, Err(StoreError::Conflict)), "{absent:?}");
}

/// A password-only login racing the activation of the account's first passkey: either the
/// login sees the factor (a `Conflict`), or the activation's revocation sees the login's
/// session. Never a password-only session on a two-factor account.
pub async fn expect_no_second_factor_is_ordered_with_an_activation<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let pending = || Factor { confirmed_at: None, ..passkey(&laura, T0, &[13; 32]).0 };
    let activate = |id| Change::ActivateFactor { factor_id: id, at: T0 };
    super::factors::login_races_activation(store, &laura, pending, activate).await;
}

/// Twenty sign-ins with a passkey that keeps no counter (0, as most synced passkeys): the
/// counter guard lets each of them through (each was checked against its own ceremony,
/// which is what makes a response single use), and the counter stays 0.
pub async fn use_passkey_without_a_counter_keeps_it_at_zero<S: Store>(store: &S) {
    let laura = insert_user(store, "laura@example.com").await;
    let (f, p) = passkey(&laura, T0, &[14; 32]);
    commit_ok(store, vec![Change::InsertFactor(f), Change::InsertPasskey(p.clone())]).await;
    let results = join_all((0..RACERS).map(|_| store.commit(vec![used(&p, 0, 0, 1)]))).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(store.passkey(p.credential_id.clone()).await.expect("read").expect("passkey").sign_count, 0);
}
