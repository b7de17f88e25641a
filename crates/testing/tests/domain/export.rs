//! GET /users/me/export: everything stored about the caller, and nothing about anyone else.

use std::time::Duration;

use portcullis_domain::model::{Aal, AuditAction};
use portcullis_domain::ports::{Change, Clock, UnitOfWork};
use portcullis_domain::{ExportError, Principal};
use portcullis_testing::fixtures;

use crate::support::{audits, ctx, login_ok, principal, seed_verified, service};

#[tokio::test]
async fn the_export_holds_the_callers_data_and_is_audited() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    let ana = seed_verified(&h, "ana@example.com").await;
    let first = login_ok(&svc, "laura@example.com").await;
    h.clock.advance(Duration::from_secs(60));
    let me = principal(&svc, &login_ok(&svc, "laura@example.com").await).await;
    svc.revoke_session(&me, first.session_id, &ctx()).await.unwrap();
    login_ok(&svc, "ana@example.com").await;
    let pending = fixtures::factor(&laura, h.clock.now());
    let (key, passkey) = fixtures::passkey(&ana, h.clock.now(), b"ana's key");
    h.store
        .commit(vec![Change::InsertFactor(pending.clone()), Change::InsertFactor(key), Change::InsertPasskey(passkey)])
        .await
        .unwrap();

    let export = svc.export_account(&me, &ctx()).await.unwrap();

    assert_eq!(export.user.id, laura.id);
    let sessions: Vec<_> = export.sessions.iter().map(|s| (s.id, s.revoked_at.is_some())).collect();
    assert_eq!(sessions, vec![(me.session_id, false), (first.session_id, true)], "ended sessions too, newest first");
    assert_eq!(export.factors.iter().map(|f| f.id).collect::<Vec<_>>(), vec![pending.id], "pending ones too");
    assert!(export.passkeys.is_empty(), "not Ana's");
    assert_eq!(export.notifications.len(), 2, "one alert per sign-in");
    assert!(export.notifications.iter().all(|n| n.user_id == laura.id));
    let actions: Vec<_> = export.audit_entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["auth.session.revoked", "auth.login.success", "auth.login.success"]);
    assert!(export.audit_entries.iter().all(|e| e.user_id == Some(laura.id)));

    let exported = audits(&h, AuditAction::DataExported.as_str());
    assert_eq!(exported.len(), 1);
    assert_eq!(exported[0].user_id, Some(laura.id));
    let debug = format!("{export:?}");
    assert!(!debug.contains("laura@example.com") && debug.contains("audit_entries: 3"), "{debug}");
}

#[tokio::test]
async fn every_audit_entry_and_notification_is_collected_across_pages() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    let me = principal(&svc, &login_ok(&svc, "laura@example.com").await).await;
    let t = h.clock.now();
    let mut changes: Vec<Change> = (0..1_203_u64)
        .map(|i| {
            Change::AppendAudit(fixtures::audit(
                Some(laura.id),
                AuditAction::ProfileUpdated,
                t.plus(Duration::from_millis(i)),
            ))
        })
        .collect();
    changes.extend(
        (0..777_u64)
            .map(|i| Change::InsertNotification(fixtures::notification(&laura, t.plus(Duration::from_millis(i))))),
    );
    h.store.commit(changes).await.unwrap();

    let export = svc.export_account(&me, &ctx()).await.unwrap();

    assert_eq!(export.audit_entries.len(), 1_204, "the login and 1,203 more");
    let mut ids: Vec<_> = export.audit_entries.iter().map(|e| e.id).collect();
    ids.dedup();
    assert_eq!(ids.len(), 1_204, "no entry twice");
    assert!(export.audit_entries.windows(2).all(|w| w[0].created_at >= w[1].created_at), "newest first");
    assert_eq!(export.notifications.len(), 778);
}

#[tokio::test]
async fn a_password_only_session_of_an_account_with_a_factor_may_not_export() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    let me = principal(&svc, &login_ok(&svc, "laura@example.com").await).await;
    let (key, passkey) = fixtures::passkey(&laura, h.clock.now(), b"laura's key");
    h.store.commit(vec![Change::InsertFactor(key), Change::InsertPasskey(passkey)]).await.unwrap();
    assert_eq!(me.aal, Aal::One);

    let err = svc.export_account(&me, &ctx()).await.unwrap_err();
    assert!(matches!(err, ExportError::SecondFactorRequired), "{err:?}");
    assert!(audits(&h, AuditAction::DataExported.as_str()).is_empty());

    let stepped_up = Principal { aal: Aal::Two, ..me };
    let export = svc.export_account(&stepped_up, &ctx()).await.unwrap();
    assert_eq!((export.factors.len(), export.passkeys.len()), (1, 1));
}

#[tokio::test]
async fn address_changes_are_exported_without_their_link() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    seed_verified(&h, "ana@example.com").await;
    let me = principal(&svc, &login_ok(&svc, "laura@example.com").await).await;
    let ana = principal(&svc, &login_ok(&svc, "ana@example.com").await).await;
    let password = || portcullis_domain::model::Password::new(fixtures::PASSWORD);
    svc.request_email_change(&me, password(), &fixtures::email("laura@example.org"), &ctx()).await.unwrap();
    let code = portcullis_domain::model::OneTimeCode::parse(&h.random.last_code().unwrap()).unwrap();
    svc.confirm_email_change(&me, &code, &ctx()).await.unwrap();
    h.clock.advance(Duration::from_secs(60));
    svc.request_email_change(&ana, password(), &fixtures::email("ana@example.org"), &ctx()).await.unwrap();

    let export = svc.export_account(&me, &ctx()).await.unwrap();
    assert_eq!(export.email_changes.len(), 1, "only the caller's: {:?}", export.email_changes);
    let change = &export.email_changes[0];
    assert_eq!((change.old_email.as_str(), change.new_email.as_str()), ("laura@example.com", "laura@example.org"));
    assert!(change.confirmed_at.is_some() && change.revert_digest.is_some());
}
