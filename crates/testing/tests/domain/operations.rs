//! The operators' use cases: readiness, housekeeping by the policy's retention, and the mail
//! queue's state.

use std::time::Duration;

use portcullis_domain::ports::{Change, RateLimiter, RateRule, UnitOfWork};
use portcullis_domain::{InfraError, Policy};
use portcullis_testing::fakes::T0;
use portcullis_testing::{fixtures, test_service};

use crate::support::seed_verified;

fn policy() -> Policy {
    Policy {
        rate_event_retention: Duration::from_secs(3600),
        ended_session_retention: Duration::from_secs(7200),
        ..Policy::default()
    }
}

#[tokio::test]
async fn rate_events_go_once_older_than_their_retention() {
    let (svc, h) = test_service(policy());
    let rule = RateRule { window: Duration::from_secs(60), max: 10 };
    h.store.acquire("ip:192.0.2.1", vec![rule], T0).await.unwrap();
    h.clock.advance(Duration::from_secs(3600));
    assert_eq!(svc.purge_rate_events().await.unwrap(), 0, "exactly as old as the retention: kept");
    h.clock.advance(Duration::from_secs(1));
    assert_eq!(svc.purge_rate_events().await.unwrap(), 1);
    assert_eq!(svc.purge_rate_events().await.unwrap(), 0, "a second run finds nothing");
}

#[tokio::test]
async fn ended_sessions_go_once_ended_longer_than_their_retention_and_live_ones_stay() {
    let (svc, h) = test_service(policy());
    let laura = seed_verified(&h, "laura@example.com").await;
    let mut revoked = fixtures::session(&laura, T0);
    revoked.revoked_at = Some(T0);
    let live = fixtures::session(&laura, T0);
    h.store.commit(vec![Change::InsertSession(revoked.clone()), Change::InsertSession(live.clone())]).await.unwrap();
    h.clock.advance(Duration::from_secs(7199));
    assert_eq!(svc.purge_ended_sessions().await.unwrap(), 0);
    h.clock.advance(Duration::from_secs(2));
    assert_eq!(svc.purge_ended_sessions().await.unwrap(), 1);
    let left: Vec<_> = h.store.sessions().into_iter().map(|s| s.id).collect();
    assert!(left.contains(&live.id) && !left.contains(&revoked.id), "{left:?}");
}

#[tokio::test]
async fn unconfirmed_enrolments_go_once_they_expired() {
    let (svc, h) = test_service(Policy::default());
    let laura = h.seed_verified("laura@example.com").await;
    let pending = fixtures::factor(&laura, T0);
    h.store.commit(vec![Change::InsertFactor(pending)]).await.unwrap();
    h.clock.advance(Duration::from_secs(600));
    assert_eq!(svc.purge_stale_enrolments().await.unwrap(), 0, "kept until past its expiry");
    h.clock.advance(Duration::from_millis(1));
    assert_eq!(svc.purge_stale_enrolments().await.unwrap(), 1);
    assert!(h.store.factors().is_empty());
}

#[tokio::test]
async fn the_outbox_status_counts_pending_and_failed_mail() {
    let (svc, h) = test_service(Policy::default());
    let queued = [fixtures::mail("laura@example.com", T0), fixtures::mail("ana@example.com", T0)];
    h.store.commit(queued.iter().cloned().map(Change::EnqueueMail).collect()).await.unwrap();
    let given_up = queued[1].id;
    portcullis_domain::ports::MailOutbox::mail_abandoned(&h.store, given_up, T0).await.unwrap();
    let status = svc.mail_outbox_status().await.unwrap();
    assert_eq!((status.pending, status.failed), (1, 1));
}

#[tokio::test]
async fn an_unreachable_store_is_not_ready_and_housekeeping_says_so() {
    let (svc, h) = test_service(Policy::default());
    assert!(svc.check_store().await.is_ok());
    h.store.set_unavailable(true);
    assert!(matches!(svc.check_store().await, Err(InfraError::Unavailable(_))));
    assert!(matches!(svc.purge_rate_events().await, Err(InfraError::Unavailable(_))));
    assert!(matches!(svc.mail_outbox_status().await, Err(InfraError::Unavailable(_))));
}
