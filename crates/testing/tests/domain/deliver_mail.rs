//! The outbox worker: sent mail leaves the queue, temporary failures retry with backoff up to
//! `MAX_MAIL_ATTEMPTS` tries, then the message is kept but marked failed, as after a
//! permanent failure.

use std::time::Duration;

use portcullis_domain::DeliveryReport;
use portcullis_domain::outbox::{MAX_MAIL_ATTEMPTS, backoff, total_retry_window};
use portcullis_domain::ports::{Change, MailError, MailOutbox, MockMailTransport, UnitOfWork};
use portcullis_testing::fakes::{FakeMailTransport, SendOutcome, T0};
use portcullis_testing::fixtures::mail;

use crate::support::service;

fn report(sent: u32, retried: u32, dropped: u32) -> DeliveryReport {
    DeliveryReport { sent, retried, dropped, abandoned: 0 }
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
    assert!(h.store.failed_mail().is_empty());
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
async fn permanent_failures_are_kept_marked_failed_and_not_retried() {
    let (svc, h) = service();
    let m = mail("a@example.com", T0);
    h.store.commit(vec![Change::EnqueueMail(m.clone())]).await.unwrap();
    let transport = FakeMailTransport::new();
    transport.script([SendOutcome::Permanent]);
    assert_eq!(svc.deliver_mail(&transport, 10).await.unwrap(), report(0, 0, 1));
    assert!(h.store.queued_mail().is_empty());
    let failed = h.store.failed_mail();
    assert_eq!((failed.len(), failed[0].0.id, failed[0].1), (1, m.id, T0));
    assert!(transport.accepted().is_empty());
    h.clock.advance(Duration::from_secs(86_400));
    assert_eq!(svc.deliver_mail(&transport, 10).await.unwrap(), report(0, 0, 0));
    assert_eq!(transport.attempts(), 1);
    assert_eq!(h.store.outbox_failed_count().await.unwrap(), 1);
}

/// Every try fails temporarily: the message is retried until its `MAX_MAIL_ATTEMPTS`-th
/// try, about ten hours after the first, then given up, kept and never tried again.
#[tokio::test]
async fn a_message_is_given_up_after_the_last_allowed_try() {
    let (svc, h) = service();
    let m = mail("a@example.com", T0);
    h.store.commit(vec![Change::EnqueueMail(m.clone())]).await.unwrap();
    let transport = FakeMailTransport::new();
    transport.script(std::iter::repeat_n(SendOutcome::Transient, 100));

    let mut elapsed = Duration::ZERO;
    for try_no in 1..MAX_MAIL_ATTEMPTS {
        assert_eq!(svc.deliver_mail(&transport, 10).await.unwrap(), report(0, 1, 0), "try {try_no}");
        h.clock.advance(backoff(try_no - 1));
        elapsed += backoff(try_no - 1);
    }
    assert_eq!(elapsed, total_retry_window());
    assert_eq!(h.store.queued_mail()[0].attempts, MAX_MAIL_ATTEMPTS - 1);
    let last = svc.deliver_mail(&transport, 10).await.unwrap();
    assert_eq!(last, DeliveryReport { abandoned: 1, ..DeliveryReport::default() });
    assert_eq!(transport.attempts(), MAX_MAIL_ATTEMPTS as usize);
    let failed = h.store.failed_mail();
    assert_eq!((failed[0].0.id, failed[0].0.attempts), (m.id, MAX_MAIL_ATTEMPTS));
    assert_eq!(failed[0].1, T0.plus(total_retry_window()));
    assert_eq!((h.store.outbox_depth().await.unwrap(), h.store.outbox_failed_count().await.unwrap()), (0, 1));

    h.clock.advance(Duration::from_secs(7 * 86_400));
    assert_eq!(svc.deliver_mail(&transport, 10).await.unwrap(), DeliveryReport::default());
    assert_eq!(transport.attempts(), MAX_MAIL_ATTEMPTS as usize, "never tried again");
}

/// The give-up rule counts the tries stored with the message, so a message that already
/// failed before (on another worker, before a restart) is given up on its last try too,
/// while a success on that same try still delivers it.
#[tokio::test]
async fn the_last_try_may_still_succeed_and_earlier_tries_count() {
    let (svc, h) = service();
    let mut nearly = mail("a@example.com", T0);
    nearly.attempts = MAX_MAIL_ATTEMPTS - 1;
    let mut lucky = mail("b@example.com", T0);
    lucky.attempts = MAX_MAIL_ATTEMPTS - 1;
    let fresh = mail("c@example.com", T0);
    let queued = [nearly.clone(), lucky.clone(), fresh.clone()];
    h.store.commit(queued.iter().cloned().map(Change::EnqueueMail).collect()).await.unwrap();
    let transport = FakeMailTransport::new();
    transport.script([SendOutcome::Transient, SendOutcome::Accept, SendOutcome::Transient]);
    let r = svc.deliver_mail(&transport, 10).await.unwrap();
    assert_eq!(r, DeliveryReport { sent: 1, retried: 1, dropped: 0, abandoned: 1 });
    assert_eq!(h.store.failed_mail()[0].0.id, nearly.id);
    assert_eq!(transport.accepted()[0].id, lucky.id);
    assert_eq!(h.store.queued_mail()[0].id, fresh.id);
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
