//! POST /auth/refresh: rotation, the grace window for parallel tabs, reuse detection.

use std::time::Duration;

use futures_util::future::join_all;
use portcullis_domain::model::{AccountStatus, RefreshHit, User};
use portcullis_domain::ports::{SecretHasher, SessionRepository, TokenIssuer};
use portcullis_domain::{AuthError, InfraError, Policy, RefreshError, TokenPair};
use portcullis_testing::fakes::T0;
use portcullis_testing::{TestHandles, test_service};
use serde_json::json;

use crate::support::{
    Service, audits, ctx, ctx_from, login_ok, mail_with_subject, seed_verified, service, shared_service, stored_session,
};

/// A change to a stored user.
type UserChange = fn(&mut User);

const REUSE_SUBJECT: &str = "We signed out one of your Portcullis sessions";

async fn refresh(svc: &Service, token: &str) -> Result<TokenPair, RefreshError> {
    svc.refresh(token, &ctx()).await
}

fn unauthorized(result: &Result<TokenPair, RefreshError>) -> bool {
    matches!(result, Err(RefreshError::Unauthorized))
}

/// Whether the store knows `token` as a spent refresh token, and when it was spent.
async fn spent_at(h: &TestHandles, token: &str) -> Option<portcullis_domain::model::Timestamp> {
    let digest = h.secrets.digest("refresh-token", token);
    match h.store.session_by_refresh(digest).await.expect("read") {
        Some((_, _, RefreshHit::Spent { spent_at, .. })) => Some(spent_at),
        _ => None,
    }
}

#[tokio::test]
async fn refresh_rotates_the_token_and_issues_an_access_token_for_the_same_session() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    let out = login_ok(&svc, "laura@example.com").await;
    let now = h.clock.advance(Duration::from_secs(90));

    let pair = refresh(&svc, &out.refresh_token).await.unwrap();

    assert_ne!(pair.refresh_token, out.refresh_token);
    assert_ne!(pair.access_token, out.access_token);
    let shown = format!("{pair:?} {out:?}");
    for secret in [&pair.refresh_token, &pair.access_token, &out.refresh_token, &out.access_token] {
        assert!(!shown.contains(secret.as_str()), "Debug must not print tokens: {shown}");
    }
    let claims = h.tokens.verify(&pair.access_token, now).unwrap();
    assert_eq!((claims.user_id, claims.session_id), (laura.id, out.session_id));
    assert_eq!((claims.issued_at, claims.expires_at), (now, now.plus(Duration::from_secs(15 * 60))));
    assert_eq!(pair.access_expires_at, claims.expires_at);
    assert_eq!(pair.expires_in(now), Duration::from_secs(15 * 60));

    let session = stored_session(&h, out.session_id);
    assert_eq!(session.refresh_token_hash, h.secrets.digest("refresh-token", &pair.refresh_token));
    assert_eq!(session.last_seen_at, now);
    assert_eq!(session.revoked_at, None);
    assert_eq!(spent_at(&h, &out.refresh_token).await, Some(now));
    assert_eq!(h.store.sessions().len(), 1, "rotation keeps the session");
    assert_eq!(svc.authenticate(&pair.access_token).await.unwrap().session_id, out.session_id);
}

#[tokio::test]
async fn the_new_refresh_token_refreshes_again() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    let out = login_ok(&svc, "laura@example.com").await;
    h.clock.advance(Duration::from_secs(60));
    let first = refresh(&svc, &out.refresh_token).await.unwrap();
    h.clock.advance(Duration::from_secs(60));
    let second = refresh(&svc, &first.refresh_token).await.unwrap();
    assert_ne!(second.refresh_token, first.refresh_token);
    assert_ne!(second.refresh_token, out.refresh_token);
    assert!(svc.authenticate(&second.access_token).await.is_ok());
    assert!(audits(&h, "auth.token.reuse_detected").is_empty());
}

#[tokio::test]
async fn the_old_token_within_the_grace_window_gets_the_same_pair_back() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    let out = login_ok(&svc, "laura@example.com").await;
    let pair = refresh(&svc, &out.refresh_token).await.unwrap();
    h.clock.advance(Duration::from_millis(9_999));

    let again = refresh(&svc, &out.refresh_token).await.unwrap();

    assert_eq!(again, pair);
    let session = stored_session(&h, out.session_id);
    assert_eq!(session.revoked_at, None);
    assert_eq!(session.refresh_token_hash, h.secrets.digest("refresh-token", &pair.refresh_token), "no new rotation");
    assert!(audits(&h, "auth.token.reuse_detected").is_empty());
    // The pair handed out twice is the live one.
    refresh(&svc, &pair.refresh_token).await.unwrap();
}

#[tokio::test]
async fn a_token_two_rotations_old_is_a_replay_even_within_the_grace_window() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    let out = login_ok(&svc, "laura@example.com").await;
    let first = refresh(&svc, &out.refresh_token).await.unwrap();
    h.clock.advance(Duration::from_secs(2));
    let second = refresh(&svc, &first.refresh_token).await.unwrap();
    h.clock.advance(Duration::from_secs(2));

    // Still inside the window of its own exchange, but its pair is no longer current.
    assert!(unauthorized(&refresh(&svc, &out.refresh_token).await));

    assert!(stored_session(&h, out.session_id).revoked_at.is_some(), "treated as theft");
    assert_eq!(audits(&h, "auth.token.reuse_detected").len(), 1);
    assert!(unauthorized(&refresh(&svc, &second.refresh_token).await));
    assert!(matches!(svc.authenticate(&second.access_token).await, Err(AuthError::Unauthorized)));
}

#[tokio::test]
async fn concurrent_refreshes_of_one_token_all_get_the_same_pair() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    let out = login_ok(&svc, "laura@example.com").await;

    let results = join_all((0..8).map(|_| refresh(&svc, &out.refresh_token))).await;

    let pairs: Vec<TokenPair> = results.into_iter().map(|r| r.expect("every tab gets a pair")).collect();
    assert!(pairs.iter().all(|p| *p == pairs[0]), "{pairs:?}");
    // Login drew two tokens; every refresh that tried to rotate drew one more.
    assert!(h.random.tokens().len() > 3, "the refreshes raced: {} tokens", h.random.tokens().len());
    let session = stored_session(&h, out.session_id);
    assert_eq!(session.revoked_at, None);
    assert_eq!(session.refresh_token_hash, h.secrets.digest("refresh-token", &pairs[0].refresh_token));
    assert!(audits(&h, "auth.token.reuse_detected").is_empty());
}

#[tokio::test]
async fn concurrent_refreshes_on_a_multithreaded_runtime_agree_too() {
    let (svc, h) = shared_service(Policy::default());
    seed_verified(&h, "laura@example.com").await;
    let out = login_ok(&svc, "laura@example.com").await;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (svc, token) = (svc.clone(), out.refresh_token.clone());
            tokio::spawn(async move { svc.refresh(&token, &ctx()).await })
        })
        .collect();
    let mut pairs = Vec::new();
    for task in tasks {
        pairs.push(task.await.unwrap().expect("every tab gets a pair"));
    }
    assert!(pairs.iter().all(|p| *p == pairs[0]));
    assert_eq!(stored_session(&h, out.session_id).revoked_at, None);
}

#[tokio::test]
async fn the_old_token_after_the_grace_window_revokes_the_session_and_warns_the_user() {
    let (svc, h) = service();
    let laura = seed_verified(&h, "laura@example.com").await;
    let out = login_ok(&svc, "laura@example.com").await;
    let other = login_ok(&svc, "laura@example.com").await;
    let pair = refresh(&svc, &out.refresh_token).await.unwrap();
    let now = h.clock.advance(Duration::from_secs(10));

    let thief = ctx_from("192.0.2.66");
    let result = svc.refresh(&out.refresh_token, &thief).await;

    assert!(unauthorized(&result), "{result:?}");
    assert_eq!(stored_session(&h, out.session_id).revoked_at, Some(now));
    assert!(matches!(svc.authenticate(&pair.access_token).await, Err(AuthError::Unauthorized)));
    assert!(unauthorized(&refresh(&svc, &pair.refresh_token).await), "the successor dies with the session");
    svc.authenticate(&other.access_token).await.expect("other sessions are untouched");

    let entries = audits(&h, "auth.token.reuse_detected");
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].user_id, Some(laura.id));
    assert_eq!(entries[0].created_at, now);
    assert_eq!(entries[0].ip_address, Some("192.0.2.66".parse().unwrap()));
    assert_eq!(
        serde_json::Value::Object(entries[0].metadata.clone()),
        json!({"session_id": out.session_id.to_string()})
    );

    let notes: Vec<_> = h.store.notifications().into_iter().filter(|n| n.kind == "security.token_reuse").collect();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].user_id, laura.id);
    assert_eq!(notes[0].data["session_id"], json!(out.session_id.to_string()));
    assert_eq!(notes[0].data["ip_address"], json!("192.0.2.66"));

    let mails = mail_with_subject(&h, "laura@example.com", REUSE_SUBJECT);
    assert_eq!(mails.len(), 1);
    let facts = ["192.0.2.66", &now.to_rfc3339(), &T0.to_rfc3339(), "Firefox 128.0 on Linux", "London, England"];
    for needle in facts {
        assert!(mails[0].body.contains(needle), "reuse mail lacks {needle}:\n{}", mails[0].body);
    }
    assert!(mails[0].html_body.is_some());
}

#[tokio::test]
async fn a_second_reuse_of_a_revoked_session_warns_only_once() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    let out = login_ok(&svc, "laura@example.com").await;
    refresh(&svc, &out.refresh_token).await.unwrap();
    h.clock.advance(Duration::from_secs(60));
    assert!(unauthorized(&refresh(&svc, &out.refresh_token).await));
    h.clock.advance(Duration::from_secs(60));
    assert!(unauthorized(&refresh(&svc, &out.refresh_token).await));
    assert_eq!(audits(&h, "auth.token.reuse_detected").len(), 1);
    assert_eq!(mail_with_subject(&h, "laura@example.com", REUSE_SUBJECT).len(), 1);
}

#[tokio::test]
async fn an_unknown_token_is_unauthorized_and_changes_nothing() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    let out = login_ok(&svc, "laura@example.com").await;
    let before = (h.store.sessions(), h.store.audit_entries().len(), h.store.queued_mail().len());
    for token in ["", "test-token-unknown", &out.access_token] {
        assert!(unauthorized(&refresh(&svc, token).await), "{token}");
    }
    assert_eq!((h.store.sessions(), h.store.audit_entries().len(), h.store.queued_mail().len()), before);
}

#[tokio::test]
async fn an_alert_token_is_not_a_refresh_token() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    login_ok(&svc, "laura@example.com").await;
    let alert = h.random.last_token().unwrap();
    assert!(unauthorized(&refresh(&svc, &alert).await));
}

#[tokio::test]
async fn a_revoked_session_cannot_refresh() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    let out = login_ok(&svc, "laura@example.com").await;
    let me = svc.authenticate(&out.access_token).await.unwrap();
    svc.logout(&me, &ctx()).await.unwrap();
    let hash = stored_session(&h, out.session_id).refresh_token_hash;
    assert!(unauthorized(&refresh(&svc, &out.refresh_token).await));
    assert_eq!(stored_session(&h, out.session_id).refresh_token_hash, hash, "no rotation");
    assert!(audits(&h, "auth.token.reuse_detected").is_empty());
}

#[tokio::test]
async fn an_expired_session_cannot_refresh() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    let out = login_ok(&svc, "laura@example.com").await;
    h.clock.advance(Duration::from_secs(24 * 3600) - Duration::from_millis(1));
    let pair = refresh(&svc, &out.refresh_token).await.expect("live until its last millisecond");
    h.clock.advance(Duration::from_millis(1));
    assert!(unauthorized(&refresh(&svc, &pair.refresh_token).await));
}

#[tokio::test]
async fn refresh_does_not_extend_the_session() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    let out = login_ok(&svc, "laura@example.com").await;
    let expires_at = stored_session(&h, out.session_id).expires_at;
    h.clock.advance(Duration::from_secs(3600));
    refresh(&svc, &out.refresh_token).await.unwrap();
    assert_eq!(stored_session(&h, out.session_id).expires_at, expires_at);
}

#[tokio::test]
async fn a_blocked_account_cannot_refresh() {
    let changes: [(&str, UserChange); 4] = [
        ("suspended", |u| u.status = AccountStatus::Suspended),
        ("deactivated", |u| u.status = AccountStatus::Deactivated),
        ("deleted", |u| u.deleted_at = Some(T0)),
        ("unverified", |u| u.email_verified_at = None),
    ];
    for (label, change) in changes {
        let (svc, h) = service();
        let laura = seed_verified(&h, "laura@example.com").await;
        let out = login_ok(&svc, "laura@example.com").await;
        assert!(h.store.modify_user(laura.id, change));
        assert!(unauthorized(&refresh(&svc, &out.refresh_token).await), "{label}");
        assert_eq!(
            stored_session(&h, out.session_id).refresh_token_hash,
            h.secrets.digest("refresh-token", &out.refresh_token),
            "{label}: no rotation"
        );
    }
}

#[tokio::test]
async fn the_per_ip_limit_applies() {
    let policy = Policy { requests_per_ip_per_minute: 2, ..Policy::default() };
    let (svc, h) = test_service(policy);
    seed_verified(&h, "laura@example.com").await;
    let out = svc
        .login(
            crate::support::login_request("laura@example.com", portcullis_testing::fixtures::PASSWORD, false),
            &ctx_from("192.0.2.1"),
        )
        .await
        .unwrap();
    let first = refresh(&svc, &out.refresh_token).await.unwrap();
    let second = refresh(&svc, &first.refresh_token).await.unwrap();
    let err = refresh(&svc, &second.refresh_token).await.unwrap_err();
    assert!(
        matches!(err, RefreshError::RateLimited { retry_after } if retry_after == Duration::from_secs(60)),
        "{err:?}"
    );
    assert_eq!(
        stored_session(&h, out.session_id).refresh_token_hash,
        h.secrets.digest("refresh-token", &second.refresh_token),
        "a limited call rotates nothing"
    );
    svc.refresh(&second.refresh_token, &ctx_from("192.0.2.2")).await.expect("another address has its own limit");
}

#[tokio::test]
async fn a_store_outage_is_infra_not_unauthorized() {
    let (svc, h) = service();
    seed_verified(&h, "laura@example.com").await;
    let out = login_ok(&svc, "laura@example.com").await;
    h.store.set_unavailable(true);
    let err = refresh(&svc, &out.refresh_token).await.unwrap_err();
    assert!(matches!(err, RefreshError::Infra(InfraError::Unavailable(_))), "{err:?}");
    h.store.set_unavailable(false);
    h.store.set_commits_unavailable(true);
    let err = refresh(&svc, &out.refresh_token).await.unwrap_err();
    assert!(matches!(err, RefreshError::Infra(InfraError::Unavailable(_))), "{err:?}");
    h.store.set_commits_unavailable(false);
    refresh(&svc, &out.refresh_token).await.expect("nothing was rotated by the failed commit");
}
