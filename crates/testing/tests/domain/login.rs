//! POST /auth/login on fakes: check order, lockout, audit, session and alert.

use std::time::Duration;

use portcullis_domain::model::{AccountBlock, AccountStatus, RequestContext};
use portcullis_domain::ports::{AttemptDecision, PasswordHasher, RateLimiter, SecretHasher, TokenIssuer};
use portcullis_domain::{InfraError, LoginError, Policy};
use portcullis_testing::fakes::{T0, firefox_on_linux, london};
use portcullis_testing::fixtures::{self, FIREFOX_UA, LONDON_IP, PASSWORD};
use serde_json::json;

use crate::support::{
    Service, ctx, failure_reasons, login_ok, login_request, seed, seed_verified, service, shared_service,
};

async fn login(svc: &Service, address: &str, password: &str) -> Result<(), LoginError> {
    svc.login(login_request(address, password, false), &ctx()).await.map(|_| ())
}

#[tokio::test]
async fn success_writes_session_audit_notification_and_alert_mail() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    let out = login_ok(&svc, "laura@example.com").await;
    let now = T0;

    assert_eq!(out.user, laura);
    assert_eq!(out.expires_in, Duration::from_secs(15 * 60));
    assert_eq!(out.location, Some(london()));
    let claims = h.tokens.verify(&out.access_token, now).unwrap();
    assert_eq!((claims.user_id, claims.session_id), (laura.id, out.session_id));
    assert_eq!(claims.expires_at, now.plus(Duration::from_secs(15 * 60)));

    let session = h.store.sessions().pop().unwrap();
    assert_eq!((session.id, session.user_id, session.remember_me), (out.session_id, laura.id, false));
    assert_eq!(session.expires_at, now.plus(Duration::from_secs(24 * 3600)));
    assert_eq!(session.ip_address, Some(fixtures::ip(LONDON_IP)));
    assert_eq!(session.user_agent.as_deref(), Some(FIREFOX_UA));
    assert_eq!((session.device.clone(), session.location.clone()), (firefox_on_linux(), Some(london())));
    assert_eq!(session.refresh_token_hash, h.secrets.digest("refresh-token", &out.refresh_token));

    let audit = h.store.audit_entries();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, "auth.login.success");
    assert_eq!(
        serde_json::Value::Object(audit[0].metadata.clone()),
        json!({"method": "password", "remember_me": false})
    );
    assert_eq!((audit[0].device.clone(), audit[0].location.clone()), (firefox_on_linux(), Some(london())));

    let notes = h.store.notifications();
    assert_eq!(notes.len(), 1);
    assert_eq!((notes[0].kind.as_str(), notes[0].user_id), ("security.new_sign_in", laura.id));
    assert!(notes[0].body.contains(LONDON_IP) && notes[0].body.contains("London"));

    let mails = h.store.mail_to("laura@example.com");
    assert_eq!(mails.len(), 1);
    let alert_token = h.random.last_token().unwrap();
    let link = format!("http://127.0.0.1:8080/api/v1/auth/sessions/revoke-from-alert?token={alert_token}");
    for needle in [LONDON_IP, &now.to_rfc3339(), &link, "Firefox 128.0 on Linux", "London, England, United Kingdom"] {
        assert!(mails[0].body.contains(needle), "alert mail lacks {needle}");
        let html = mails[0].html_body.as_deref().expect("an HTML part");
        assert!(html.contains(needle), "alert mail's HTML lacks {needle}");
    }
    assert_eq!(session.alert_token_hash, Some(h.secrets.digest("alert-token", &alert_token)));
    svc.authenticate(&out.access_token).await.unwrap();
}

#[tokio::test]
async fn remember_me_keeps_the_session_thirty_days() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    let out = svc.login(login_request("laura@example.com", PASSWORD, true), &ctx()).await.unwrap();
    let session = h.store.sessions().pop().unwrap();
    assert!(session.remember_me);
    assert_eq!(session.expires_at, T0.plus(Duration::from_secs(30 * 24 * 3600)));
    assert_eq!(out.expires_in, Duration::from_secs(15 * 60), "the access token stays short");
    assert_eq!(h.store.audit_entries()[0].metadata["remember_me"], json!(true));
}

#[tokio::test]
async fn unknown_ip_has_no_location() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    let private = RequestContext::new(fixtures::ip("10.0.0.1"), None);
    let out = svc.login(login_request("laura@example.com", PASSWORD, false), &private).await.unwrap();
    assert_eq!(out.location, None);
    assert_eq!(h.store.sessions()[0].location, None);
    assert!(h.store.queued_mail()[0].body.contains("an unknown location"));
}

#[tokio::test]
async fn ip_limit_comes_before_everything() {
    let policy = Policy { requests_per_ip_per_minute: 3, ..Policy::default() };
    let (svc, h) = portcullis_testing::test_service(policy);
    seed_verified(&h, "laura@example.com").await;
    for _ in 0..3 {
        assert!(matches!(
            login(&svc, "laura@example.com", "wrong password").await,
            Err(LoginError::InvalidCredentials)
        ));
    }
    let err = svc.login(login_request("laura@example.com", PASSWORD, false), &ctx()).await.unwrap_err();
    assert!(matches!(err, LoginError::RateLimited { retry_after } if retry_after == Duration::from_secs(60)));
    assert_eq!(h.hasher.verify_calls(), 3);
    assert_eq!(h.store.audit_entries().len(), 3);
    assert_eq!(h.store.rate_events("login:laura@example.com"), 3);
}

#[tokio::test]
async fn five_failures_lock_the_address_without_checking_the_password() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    for i in 0..5u64 {
        h.clock.set(T0.plus(Duration::from_secs(60 * i)));
        assert!(matches!(
            login(&svc, "laura@example.com", "wrong password").await,
            Err(LoginError::InvalidCredentials)
        ));
    }
    h.clock.set(T0.plus(Duration::from_secs(600)));
    let err = login(&svc, "laura@example.com", PASSWORD).await.unwrap_err();
    assert!(matches!(err, LoginError::TooManyAttempts { retry_after } if retry_after == Duration::from_secs(1200)));
    assert_eq!(h.hasher.verify_calls(), 5);
    let mut reasons = vec!["invalid_password"; 5];
    reasons.push("too_many_attempts");
    assert_eq!(failure_reasons(&h), reasons);

    // The window slides: the first failure leaves it after 30 minutes.
    h.clock.set(T0.plus(Duration::from_secs(30 * 60)));
    login(&svc, "laura@example.com", PASSWORD).await.unwrap();
}

#[tokio::test]
async fn unknown_address_costs_one_verify_and_is_not_audited() {
    let (svc, h) = service();
    let err = login(&svc, "nobody@example.com", PASSWORD).await.unwrap_err();
    assert!(matches!(err, LoginError::InvalidCredentials), "{err:?}");
    assert_eq!(h.hasher.verify_calls(), 1);
    assert!(h.store.audit_entries().is_empty());
    // Unknown addresses lock like known ones, so the lockout reveals nothing either.
    for _ in 0..4 {
        let _ = login(&svc, "nobody@example.com", PASSWORD).await;
    }
    let err = login(&svc, "nobody@example.com", PASSWORD).await.unwrap_err();
    assert!(matches!(err, LoginError::TooManyAttempts { .. }), "{err:?}");
    assert!(h.store.audit_entries().is_empty());
}

#[tokio::test]
async fn wrong_password_is_audited_with_enrichment() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    assert!(matches!(login(&svc, "Laura@Example.com", "wrong password").await, Err(LoginError::InvalidCredentials)));
    let entry = h.store.audit_entries().pop().unwrap();
    assert_eq!((entry.action.as_str(), entry.user_id), ("auth.login.failure", Some(laura.id)));
    assert_eq!(serde_json::Value::Object(entry.metadata), json!({"reason": "invalid_password"}));
    assert_eq!(entry.ip_address, Some(fixtures::ip(LONDON_IP)));
    assert_eq!(entry.user_agent.as_deref(), Some(FIREFOX_UA));
    assert_eq!((entry.device, entry.location), (firefox_on_linux(), Some(london())));
    assert!(h.store.sessions().is_empty() && h.store.queued_mail().is_empty());
}

#[tokio::test]
async fn blocked_accounts_in_precedence_order() {
    let (svc, h) = service();
    let base = |address: &str| fixtures::unverified_user(address, T0);
    let mut deleted = base("deleted@example.com");
    (deleted.deleted_at, deleted.status) = (Some(T0), AccountStatus::Suspended);
    let mut suspended = base("suspended@example.com");
    suspended.status = AccountStatus::Suspended;
    let mut deactivated = base("deactivated@example.com");
    deactivated.status = AccountStatus::Deactivated;
    let unverified = base("unverified@example.com");
    let cases = [
        (deleted, AccountBlock::Deleted, "account_deleted"),
        (suspended, AccountBlock::Suspended, "account_suspended"),
        (deactivated, AccountBlock::Deactivated, "account_deactivated"),
        (unverified, AccountBlock::NotVerified, "email_not_verified"),
    ];
    for (user, block, reason) in cases {
        let address = user.email.as_str().to_owned();
        seed(&h, user).await;
        let err = login(&svc, &address, "wrong password").await.unwrap_err();
        assert!(matches!(err, LoginError::InvalidCredentials), "wrong password first: {err:?}");
        let err = login(&svc, &address, PASSWORD).await.unwrap_err();
        assert!(matches!(err, LoginError::Blocked(b) if b == block), "{address}: {err:?}");
        assert_eq!(failure_reasons(&h).last().map(String::as_str), Some(reason));
    }
    assert!(h.store.sessions().is_empty() && h.store.notifications().is_empty());
}

#[tokio::test]
async fn a_successful_login_clears_the_failures() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    for _ in 0..4 {
        let _ = login(&svc, "laura@example.com", "wrong password").await;
    }
    login(&svc, "laura@example.com", PASSWORD).await.unwrap();
    // The failures are cleared and the success's own reservation released, in its commit.
    assert_eq!(h.store.rate_events("login:laura@example.com"), 0);
    // Four failures before the success no longer count: five more are checked.
    for _ in 0..5 {
        assert!(matches!(
            login(&svc, "laura@example.com", "wrong password").await,
            Err(LoginError::InvalidCredentials)
        ));
    }
    assert!(matches!(login(&svc, "laura@example.com", PASSWORD).await, Err(LoginError::TooManyAttempts { .. })));
    assert_eq!(h.hasher.verify_calls(), 10);
}

#[tokio::test]
async fn a_right_password_refused_for_the_account_state_clears_nothing() {
    let (svc, h) = service();
    seed(&h, fixtures::unverified_user("new@example.com", T0)).await;
    for _ in 0..4 {
        let _ = login(&svc, "new@example.com", "wrong password").await;
    }
    assert!(matches!(login(&svc, "new@example.com", PASSWORD).await, Err(LoginError::Blocked(_))));
    // The refusal's audit commit gave the reservation back: the four failures are all there is.
    assert_eq!(h.store.rate_events("login:new@example.com"), 4);
    let _ = login(&svc, "new@example.com", "wrong password").await;
    assert!(matches!(login(&svc, "new@example.com", PASSWORD).await, Err(LoginError::TooManyAttempts { .. })));
}

#[tokio::test]
async fn parallel_right_passwords_all_sign_in() {
    let (svc, h) = shared_service(Policy::default());
    seed_verified(&h, "laura@example.com").await;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let svc = svc.clone();
            tokio::spawn(async move { login(&svc, "laura@example.com", PASSWORD).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(h.store.sessions().len(), 20);
    assert_eq!(failure_reasons(&h), Vec::<String>::new(), "no attempt was refused or counted");
    // And the account is not one step closer to a lockout.
    for _ in 0..5 {
        assert!(matches!(
            login(&svc, "laura@example.com", "wrong password").await,
            Err(LoginError::InvalidCredentials)
        ));
    }
}

#[tokio::test]
async fn attempts_that_outwait_the_patience_get_busy_not_locked() {
    let policy = Policy { login_attempt_patience: Duration::from_millis(50), ..Policy::default() };
    let (svc, h) = shared_service(policy);
    seed_verified(&h, "laura@example.com").await;
    // Five checks in flight elsewhere (their reservations unresolved) fill the room.
    for _ in 0..5 {
        let decision = h
            .store
            .reserve_attempt(
                "login:laura@example.com",
                svc.policy().login_rules(),
                T0,
                Duration::from_secs(60),
                Duration::ZERO,
            )
            .await
            .unwrap();
        assert!(matches!(decision, AttemptDecision::Reserved(_)), "{decision:?}");
    }
    let err = login(&svc, "laura@example.com", PASSWORD).await.unwrap_err();
    assert!(matches!(err, LoginError::Infra(InfraError::Busy { .. })), "{err:?}");
    assert_eq!(h.hasher.verify_calls(), 0);
    assert_eq!(failure_reasons(&h), Vec::<String>::new());
    // Once their hold runs out they count as failures: the address is locked, fail closed.
    h.clock.advance(Duration::from_secs(61));
    assert!(matches!(login(&svc, "laura@example.com", PASSWORD).await, Err(LoginError::TooManyAttempts { .. })));
}

#[tokio::test]
async fn parallel_wrong_passwords_reach_the_hasher_at_most_five_times() {
    let (svc, h) = shared_service(Policy::default());
    seed_verified(&h, "laura@example.com").await;
    let tasks: Vec<_> = (0..24)
        .map(|_| {
            let svc = svc.clone();
            tokio::spawn(async move { login(&svc, "laura@example.com", "wrong password").await })
        })
        .collect();
    let mut invalid = 0;
    for task in tasks {
        match task.await.unwrap() {
            Err(LoginError::InvalidCredentials) => invalid += 1,
            Err(LoginError::TooManyAttempts { .. }) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(invalid, 5);
    assert_eq!(h.hasher.verify_calls(), 5);
}

#[tokio::test]
async fn infrastructure_failures_surface_as_infra() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    h.hasher.set_busy(true);
    let err = login(&svc, "laura@example.com", PASSWORD).await.unwrap_err();
    assert!(matches!(err, LoginError::Infra(InfraError::Busy { .. })), "{err:?}");
    h.hasher.set_busy(false);
    h.store.set_unavailable(true);
    let err = login(&svc, "laura@example.com", PASSWORD).await.unwrap_err();
    assert!(matches!(err, LoginError::Infra(InfraError::Unavailable(_))), "{err:?}");
}

#[tokio::test]
async fn a_busy_hasher_does_not_count_as_a_failed_attempt() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    h.hasher.set_busy(true);
    for _ in 0..10 {
        let err = login(&svc, "laura@example.com", "wrong password entirely").await.unwrap_err();
        assert!(matches!(err, LoginError::Infra(InfraError::Busy { .. })), "{err:?}");
    }
    h.hasher.set_busy(false);
    login(&svc, "laura@example.com", PASSWORD).await.unwrap();
}

#[tokio::test]
async fn the_dummy_hash_is_a_valid_hash() {
    let (_svc, h) = service();
    let dummy = h.hasher.dummy_hash();
    assert!(!h.hasher.verify(portcullis_domain::model::Password::new(PASSWORD), dummy).await.unwrap());
}

#[tokio::test]
async fn logout_revokes_only_the_callers_session_and_is_audited() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    let first = login_ok(&svc, "laura@example.com").await;
    let second = login_ok(&svc, "laura@example.com").await;
    let principal = svc.authenticate(&first.access_token).await.unwrap();
    svc.logout(&principal, &ctx()).await.unwrap();
    assert!(matches!(svc.authenticate(&first.access_token).await, Err(portcullis_domain::AuthError::Unauthorized)));
    svc.authenticate(&second.access_token).await.unwrap();
    let last = h.store.audit_entries().pop().unwrap();
    assert_eq!(last.action, "auth.logout");
    assert_eq!(last.metadata["session_id"], first.session_id.to_string());
}
