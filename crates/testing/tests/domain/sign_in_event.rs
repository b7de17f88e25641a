//! POST /auth/log: client-reported sign-ins and sign-ups.

use std::time::Duration;

use portcullis_domain::model::RequestContext;
use portcullis_domain::{Principal, ReportedEvent, SignInEventError};
use portcullis_testing::TestHandles;
use portcullis_testing::fixtures::{self, FIREFOX_UA, LONDON_IP};
use serde_json::json;

use crate::support::{Service, ctx, login_ok, seed_verified, service};

async fn principal(svc: &Service, h: &TestHandles) -> Principal {
    seed_verified(h, "laura@example.com").await;
    let out = login_ok(svc, "laura@example.com").await;
    svc.authenticate(&out.access_token).await.expect("authenticate")
}

#[tokio::test]
async fn a_reported_login_is_audited_and_alerted() {
    let (svc, h) = service();
    let who = principal(&svc, &h).await;
    let (audit_before, mail_before) = (h.store.audit_entries().len(), h.store.queued_mail().len());
    let phone = RequestContext::new(fixtures::ip("2001:db8::7"), Some("PhoneApp/1.0"));
    svc.record_sign_in_event(&who, ReportedEvent::Login, Some("abc123xyz".into()), &phone).await.unwrap();

    let entries = h.store.audit_entries();
    assert_eq!(entries.len(), audit_before + 1);
    let entry = entries.last().unwrap();
    assert_eq!((entry.action.as_str(), entry.user_id), ("auth.login.success", Some(who.user.id)));
    assert_eq!(
        serde_json::Value::Object(entry.metadata.clone()),
        json!({"method": "client_reported", "fingerprint": "abc123xyz"})
    );
    assert_eq!(entry.fingerprint.as_deref(), Some("abc123xyz"));
    assert_eq!(entry.ip_address, Some(fixtures::ip("2001:db8::7")));
    assert_eq!(entry.user_agent.as_deref(), Some("PhoneApp/1.0"));
    assert_eq!(entry.location, None);

    assert_eq!(h.store.notifications().len(), 2);
    assert_eq!(h.store.notifications()[1].kind, "security.new_sign_in");
    let mails = h.store.queued_mail();
    assert_eq!(mails.len(), mail_before + 1);
    assert!(mails.last().unwrap().body.contains("2001:db8::7"));
    let session = h.store.sessions().pop().unwrap();
    let token = h.random.last_token().unwrap();
    use portcullis_domain::ports::SecretHasher;
    assert_eq!(session.alert_token_hash, Some(h.secrets.digest("alert-token", &token)));
}

#[tokio::test]
async fn a_reported_signup_is_audited_without_alert() {
    let (svc, h) = service();
    let who = principal(&svc, &h).await;
    let (notes, mails) = (h.store.notifications().len(), h.store.queued_mail().len());
    svc.record_sign_in_event(&who, ReportedEvent::Signup, None, &ctx()).await.unwrap();
    let entry = h.store.audit_entries().pop().unwrap();
    assert_eq!(entry.action, "auth.signup");
    assert!(entry.metadata.is_empty());
    assert_eq!(entry.fingerprint, None);
    assert_eq!(entry.ip_address, Some(fixtures::ip(LONDON_IP)));
    assert_eq!(entry.user_agent.as_deref(), Some(FIREFOX_UA));
    assert_eq!((h.store.notifications().len(), h.store.queued_mail().len()), (notes, mails));
}

#[tokio::test]
async fn twenty_reports_an_hour() {
    let (svc, h) = service();
    let who = principal(&svc, &h).await;
    for _ in 0..20 {
        svc.record_sign_in_event(&who, ReportedEvent::Signup, None, &ctx()).await.unwrap();
    }
    h.clock.advance(Duration::from_secs(600));
    let err = svc.record_sign_in_event(&who, ReportedEvent::Login, None, &ctx()).await.unwrap_err();
    assert!(matches!(err, SignInEventError::RateLimited { retry_after } if retry_after == Duration::from_secs(3000)));
    h.clock.advance(Duration::from_secs(3000));
    svc.record_sign_in_event(&who, ReportedEvent::Login, None, &ctx()).await.unwrap();
}

#[tokio::test]
async fn a_failed_write_is_its_own_outcome_apart_from_a_failed_limit_check() {
    let (svc, h) = service();
    let who = principal(&svc, &h).await;
    let before = h.store.audit_entries().len();
    h.store.set_commits_unavailable(true);
    let err = svc.record_sign_in_event(&who, ReportedEvent::Login, None, &ctx()).await.unwrap_err();
    assert!(matches!(err, SignInEventError::NotRecorded(_)), "{err:?}");
    assert_eq!(h.store.audit_entries().len(), before);
    h.store.set_unavailable(true);
    let err = svc.record_sign_in_event(&who, ReportedEvent::Login, None, &ctx()).await.unwrap_err();
    assert!(matches!(err, SignInEventError::Infra(_)), "{err:?}");
}
