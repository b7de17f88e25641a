//! Bearer tokens: a valid token of a live session of a usable account, checked on every
//! request.

use std::time::Duration;

use portcullis_domain::AuthError;
use portcullis_domain::model::{AccountStatus, SessionId};
use portcullis_domain::ports::{AccessClaims, TokenIssuer};
use portcullis_testing::fakes::T0;

use crate::support::{Service, login_ok, seed_verified, service};

fn unauthorized(result: Result<portcullis_domain::Principal, AuthError>) -> bool {
    matches!(result, Err(AuthError::Unauthorized))
}

async fn signed_in(svc: &Service, h: &portcullis_testing::TestHandles) -> (String, SessionId) {
    seed_verified(h, "laura@example.com").await;
    let out = login_ok(svc, "laura@example.com").await;
    (out.access_token, out.session_id)
}

#[tokio::test]
async fn a_valid_token_of_a_live_session_is_accepted() {
    let (svc, h) = service();
    let (token, session_id) = signed_in(&svc, &h).await;
    h.clock.advance(Duration::from_secs(14 * 60));
    let principal = svc.authenticate(&token).await.unwrap();
    assert_eq!(principal.session_id, session_id);
    assert_eq!(principal.user.email.as_str(), "laura@example.com");
}

#[tokio::test]
async fn garbage_and_expired_tokens_are_refused() {
    let (svc, h) = service();
    let (token, _) = signed_in(&svc, &h).await;
    assert!(unauthorized(svc.authenticate("").await));
    assert!(unauthorized(svc.authenticate("v4.local.garbage").await));
    assert!(unauthorized(svc.authenticate(&format!("{token}x")).await));
    h.clock.advance(Duration::from_secs(15 * 60));
    assert!(unauthorized(svc.authenticate(&token).await));
}

#[tokio::test]
async fn a_revoked_session_is_refused_at_once() {
    let (svc, h) = service();
    let (token, session_id) = signed_in(&svc, &h).await;
    assert!(h.store.modify_session(session_id, |s| s.revoked_at = Some(T0)));
    assert!(unauthorized(svc.authenticate(&token).await));
}

#[tokio::test]
async fn an_expired_session_is_refused_even_with_a_live_token() {
    let (svc, h) = service();
    let (_, session_id) = signed_in(&svc, &h).await;
    let user_id = h.store.users()[0].id;
    let day = Duration::from_secs(24 * 3600);
    let claims = AccessClaims {
        user_id,
        session_id,
        issued_at: T0,
        expires_at: T0.plus(day * 2),
        aal: portcullis_domain::model::Aal::One,
        amr: vec![portcullis_domain::model::AuthMethod::Password],
    };
    let token = h.tokens.issue(&claims).unwrap();
    h.clock.advance(day - Duration::from_millis(1));
    svc.authenticate(&token).await.unwrap();
    h.clock.advance(Duration::from_millis(1));
    assert!(unauthorized(svc.authenticate(&token).await));
}

#[tokio::test]
async fn a_blocked_account_is_refused_at_once() {
    let changes: [fn(&mut portcullis_domain::model::User); 4] = [
        |u| u.status = AccountStatus::Suspended,
        |u| u.status = AccountStatus::Deactivated,
        |u| u.deleted_at = Some(T0),
        |u| u.email_verified_at = None,
    ];
    for change in changes {
        let (svc, h) = service();
        let (token, _) = signed_in(&svc, &h).await;
        let user_id = h.store.users()[0].id;
        assert!(h.store.modify_user(user_id, change));
        assert!(unauthorized(svc.authenticate(&token).await));
    }
}

#[tokio::test]
async fn claims_must_match_the_session() {
    let (svc, h) = service();
    let (_, session_id) = signed_in(&svc, &h).await;
    let ana = seed_verified(&h, "ana@example.com").await;
    let forged = AccessClaims {
        user_id: ana.id,
        session_id,
        issued_at: T0,
        expires_at: T0.plus(Duration::from_secs(60)),
        aal: portcullis_domain::model::Aal::One,
        amr: vec![portcullis_domain::model::AuthMethod::Password],
    };
    assert!(unauthorized(svc.authenticate(&h.tokens.issue(&forged).unwrap()).await));
    let unknown = AccessClaims { session_id: SessionId::new_v7(), user_id: ana.id, ..forged };
    assert!(unauthorized(svc.authenticate(&h.tokens.issue(&unknown).unwrap()).await));
}

#[tokio::test]
async fn a_store_outage_is_not_unauthorized() {
    let (svc, h) = service();
    let (token, _) = signed_in(&svc, &h).await;
    h.store.set_unavailable(true);
    assert!(matches!(svc.authenticate(&token).await, Err(AuthError::Infra(_))));
}
