//! The outbox worker: sent mail leaves the queue, temporary failures retry with backoff,
//! permanent ones are dropped.

use std::time::Duration;

use portcullis_domain::DeliveryReport;
use portcullis_domain::ports::{Change, MailError, MockMailTransport, UnitOfWork};
use portcullis_testing::fakes::{FakeMailTransport, SendOutcome, T0};
use portcullis_testing::fixtures::mail;

use crate::support::service;

fn report(sent: u32, retried: u32, dropped: u32) -> DeliveryReport {
    DeliveryReport { sent, retried, dropped }
}

#[tokio::test]
async fn sent_mail_leaves_the_queue() {
    let (svc, h) = service();
    let queued = [mail("a@example.com", T0), mail("b@example.com", T0)];
    h.store.commit(queued.iter().cloned().map(Change::EnqueueMail).collect()).await.unwrap();
    let transport = FakeMailTransport::new();
    assert_eq!(svc.deliver_mail(&transport, 10).await.unwrap(), report(2, 0, 0));
    assert_eq!(transport.accepted(), queued.to_vec());
    assert!(h.store.queued_mail().is_empty());
    assert_eq!(svc.deliver_mail(&transport, 10).await.unwrap(), report(0, 0, 0));
}

#[tokio::test]
async fn temporary_failures_retry_with_backoff_until_delivered() {
    let (svc, h) = service();
    let m = mail("a@example.com", T0);
    h.store.commit(vec![Change::EnqueueMail(m.clone())]).await.unwrap();
    let transport = FakeMailTransport::new();
    transport.script([SendOutcome::Transient, SendOutcome::Transient]);

    assert_eq!(svc.deliver_mail(&transport, 10).await.unwrap(), report(0, 1, 0));
    let waiting = h.store.queued_mail();
    assert_eq!((waiting[0].attempts, waiting[0].next_attempt_at), (1, T0.plus(Duration::from_secs(5))));
    assert_eq!(svc.deliver_mail(&transport, 10).await.unwrap(), report(0, 0, 0), "not due yet");

    let now = h.clock.advance(Duration::from_secs(5));
    assert_eq!(svc.deliver_mail(&transport, 10).await.unwrap(), report(0, 1, 0));
    assert_eq!(h.store.queued_mail()[0].next_attempt_at, now.plus(Duration::from_secs(10)));
    h.clock.advance(Duration::from_secs(10));
    assert_eq!(svc.deliver_mail(&transport, 10).await.unwrap(), report(1, 0, 0));
    assert!(h.store.queued_mail().is_empty());
    assert_eq!(transport.attempts(), 3);
    assert_eq!(transport.accepted()[0].id, m.id);
}

#[tokio::test]
async fn permanent_failures_are_dropped() {
    let (svc, h) = service();
    h.store.commit(vec![Change::EnqueueMail(mail("a@example.com", T0))]).await.unwrap();
    let transport = FakeMailTransport::new();
    transport.script([SendOutcome::Permanent]);
    assert_eq!(svc.deliver_mail(&transport, 10).await.unwrap(), report(0, 0, 1));
    assert!(h.store.queued_mail().is_empty());
    assert!(transport.accepted().is_empty());
}

#[tokio::test]
async fn a_batch_is_at_most_the_limit_and_a_mock_transport_sees_each_once() {
    let (svc, h) = service();
    let queued: Vec<_> = (0..5).map(|i| mail(&format!("u{i}@example.com"), T0)).collect();
    h.store.commit(queued.iter().cloned().map(Change::EnqueueMail).collect()).await.unwrap();
    let mut transport = MockMailTransport::new();
    transport.expect_send().times(3).returning(|_| Ok(()));
    assert_eq!(svc.deliver_mail(&transport, 3).await.unwrap(), report(3, 0, 0));
    transport.checkpoint();
    transport.expect_send().times(2).returning(|m| Err(MailError::Transient(format!("{:?} deferred", m.id))));
    assert_eq!(svc.deliver_mail(&transport, 3).await.unwrap(), report(0, 2, 0));
    assert_eq!(h.store.queued_mail().len(), 2);
}

#[tokio::test]
async fn registration_mail_reaches_the_transport() {
    let (svc, h) = service();
    let digits = crate::support::register(&svc, &h, "laura@example.com").await;
    let transport = FakeMailTransport::new();
    svc.deliver_mail(&transport, 10).await.unwrap();
    assert!(transport.accepted()[0].body.contains(&digits));
}
