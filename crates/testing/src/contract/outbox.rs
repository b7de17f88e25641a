//! The mail outbox: due order, leases, success, failure, depth.

use std::collections::HashSet;
use std::time::Duration;

use futures_util::future::join_all;
use portcullis_domain::model::{MailId, OutgoingMail, Timestamp};
use portcullis_domain::ports::{Change, Store};

use super::{T0, commit_ok};
use crate::fixtures::{email, mail};

const LEASE: Duration = Duration::from_secs(120);

fn secs(s: u64) -> Timestamp {
    T0.plus(Duration::from_secs(s))
}

fn ids(mails: &[OutgoingMail]) -> Vec<MailId> {
    mails.iter().map(|m| m.id).collect()
}

async fn enqueue<S: Store>(store: &S, mails: &[OutgoingMail]) {
    commit_ok(store, mails.iter().cloned().map(Change::EnqueueMail).collect()).await;
}

/// A queued message reads back field for field when claimed, with and without an HTML body.
pub async fn outbox_round_trips_fields<S: Store>(store: &S) {
    let mut m = mail("laura@example.com", secs(1));
    m.to_name = None;
    m.subject = "Your Portcullis verification code".to_owned();
    m.body = "Hello Laura,\n\n    123456\n\nÜmlauts and emoji 🔐 survive.\n".to_owned();
    m.html_body = Some("<p>Hello Laura,</p>\n<p>123456 &mdash; Ümlauts and emoji 🔐</p>\n".to_owned());
    m.created_at = T0;
    let mut named = mail("ana@example.com", secs(2));
    named.attempts = 3;
    enqueue(store, &[m.clone(), named.clone()]).await;
    let claimed = store.claim_mail(secs(10), LEASE, 10).await.expect("claim");
    assert_eq!(claimed, vec![m, named]);
}

/// Only due messages are claimed, by `next_attempt_at` then `created_at`, at most `limit`.
pub async fn outbox_claims_due_in_order<S: Store>(store: &S) {
    let mut later = mail("a@example.com", secs(2));
    later.created_at = T0;
    let mut second = mail("b@example.com", T0);
    second.created_at = secs(1);
    let first = mail("c@example.com", T0);
    let not_due = mail("d@example.com", secs(3_600));
    enqueue(store, &[later.clone(), second.clone(), not_due.clone(), first.clone()]).await;

    let claimed = store.claim_mail(secs(5), LEASE, 2).await.expect("claim");
    assert_eq!(ids(&claimed), vec![first.id, second.id]);
    let claimed = store.claim_mail(secs(5), LEASE, 10).await.expect("claim");
    assert_eq!(ids(&claimed), vec![later.id]);
    assert!(store.claim_mail(secs(6), LEASE, 10).await.expect("claim").is_empty());
    assert_eq!(store.claim_mail(secs(3_600), LEASE, 10).await.expect("claim").len(), 4);
}

/// A claimed message is not handed out again until its lease ends.
pub async fn outbox_lease_hides_claimed_mail<S: Store>(store: &S) {
    let m = mail("laura@example.com", T0);
    enqueue(store, std::slice::from_ref(&m)).await;
    assert_eq!(ids(&store.claim_mail(secs(10), LEASE, 10).await.expect("claim")), vec![m.id]);
    assert!(store.claim_mail(secs(10), LEASE, 10).await.expect("claim").is_empty());
    assert!(store.claim_mail(secs(129), LEASE, 10).await.expect("claim").is_empty());
    // The lease ended at 130 s: a crashed worker's message goes out again.
    assert_eq!(ids(&store.claim_mail(secs(131), LEASE, 10).await.expect("claim")), vec![m.id]);
    assert!(store.claim_mail(secs(200), LEASE, 10).await.expect("claim").is_empty());
}

/// Concurrent claims never hand out the same message twice.
pub async fn outbox_concurrent_claims_do_not_overlap<S: Store>(store: &S) {
    let mails: Vec<OutgoingMail> = (0..10).map(|i| mail(&format!("user{i}@example.com"), T0)).collect();
    enqueue(store, &mails).await;
    let results = join_all((0..4).map(|_| store.claim_mail(secs(1), LEASE, 3))).await;
    let mut seen = HashSet::new();
    for claimed in results {
        for m in claimed.expect("claim") {
            assert!(seen.insert(m.id), "{:?} claimed twice", m.id);
        }
    }
    assert!(!seen.is_empty());
}

/// `mail_sent` removes the message for good.
pub async fn outbox_mail_sent_deletes<S: Store>(store: &S) {
    let sent = mail("laura@example.com", T0);
    let kept = mail("ana@example.com", T0);
    enqueue(store, &[sent.clone(), kept.clone()]).await;
    store.claim_mail(secs(1), LEASE, 10).await.expect("claim");
    store.mail_sent(sent.id).await.expect("mail_sent");
    assert_eq!(store.outbox_depth().await.expect("depth"), 1);
    let again = store.claim_mail(secs(1_000), LEASE, 10).await.expect("claim");
    assert_eq!(ids(&again), vec![kept.id]);
}

/// `mail_failed` counts the try, reschedules the message and ends its lease.
pub async fn outbox_mail_failed_reschedules<S: Store>(store: &S) {
    let m = mail("laura@example.com", T0);
    enqueue(store, std::slice::from_ref(&m)).await;
    store.claim_mail(secs(1), LEASE, 10).await.expect("claim");
    store.mail_failed(m.id, secs(10)).await.expect("mail_failed");
    assert!(store.claim_mail(secs(9), LEASE, 10).await.expect("claim").is_empty());
    // Due at 10 s although the lease would have run until 121 s.
    let claimed = store.claim_mail(secs(10), LEASE, 10).await.expect("claim");
    assert_eq!(claimed.len(), 1);
    assert_eq!((claimed[0].attempts, claimed[0].next_attempt_at), (1, secs(10)));
    store.mail_failed(m.id, secs(30)).await.expect("mail_failed");
    let claimed = store.claim_mail(secs(30), LEASE, 10).await.expect("claim");
    assert_eq!(claimed[0].attempts, 2);
    assert_eq!(claimed[0].to, email("laura@example.com"));
    assert_eq!(store.outbox_depth().await.expect("depth"), 1);
}

/// `outbox_depth` counts every waiting message, due, leased or not.
pub async fn outbox_depth_counts_waiting<S: Store>(store: &S) {
    assert_eq!(store.outbox_depth().await.expect("depth"), 0);
    let mails = [mail("a@example.com", T0), mail("b@example.com", T0), mail("c@example.com", secs(3_600))];
    enqueue(store, &mails).await;
    assert_eq!(store.outbox_depth().await.expect("depth"), 3);
    store.claim_mail(secs(1), LEASE, 1).await.expect("claim");
    assert_eq!(store.outbox_depth().await.expect("depth"), 3);
    store.mail_sent(mails[0].id).await.expect("mail_sent");
    assert_eq!(store.outbox_depth().await.expect("depth"), 2);
}

/// An abandoned message stays in the store, counted as failed and not as waiting, and no
/// claim ever hands it out again (not after its lease, not far in the future).
pub async fn outbox_abandoned_mail_is_kept_and_never_claimed<S: Store>(store: &S) {
    let given_up = mail("laura@example.com", T0);
    let retried = mail("ana@example.com", T0);
    enqueue(store, &[given_up.clone(), retried.clone()]).await;
    assert_eq!(store.claim_mail(secs(1), LEASE, 10).await.expect("claim").len(), 2);
    store.mail_abandoned(given_up.id, secs(2)).await.expect("mail_abandoned");
    store.mail_failed(retried.id, secs(10)).await.expect("mail_failed");
    assert_eq!(store.outbox_depth().await.expect("depth"), 1);
    assert_eq!(store.outbox_failed_count().await.expect("failed"), 1);

    assert_eq!(ids(&store.claim_mail(secs(10), LEASE, 10).await.expect("claim")), vec![retried.id]);
    // Long after every lease has ended, only the retried message comes back.
    assert_eq!(ids(&store.claim_mail(secs(1_000_000), LEASE, 10).await.expect("claim")), vec![retried.id]);
    store.mail_sent(retried.id).await.expect("mail_sent");
    assert!(store.claim_mail(secs(2_000_000), LEASE, 10).await.expect("claim").is_empty());
    assert_eq!(store.outbox_depth().await.expect("depth"), 0);
    assert_eq!(store.outbox_failed_count().await.expect("failed"), 1, "kept after other mail left");
}

/// A message can be abandoned without being claimed first, abandoning twice counts it once,
/// and an unknown id changes nothing.
pub async fn outbox_abandon_applies_to_unclaimed_mail_only_once_known<S: Store>(store: &S) {
    assert_eq!(store.outbox_failed_count().await.expect("failed"), 0);
    let m = mail("laura@example.com", T0);
    let other = mail("ana@example.com", secs(5));
    enqueue(store, &[m.clone(), other.clone()]).await;
    store.mail_abandoned(MailId::new_v7(), secs(1)).await.expect("unknown id");
    assert_eq!(store.outbox_failed_count().await.expect("failed"), 0);
    store.mail_abandoned(m.id, secs(1)).await.expect("mail_abandoned");
    store.mail_abandoned(m.id, secs(2)).await.expect("mail_abandoned again");
    assert_eq!(store.outbox_failed_count().await.expect("failed"), 1);
    assert_eq!(store.outbox_depth().await.expect("depth"), 1);
    assert_eq!(ids(&store.claim_mail(secs(10), LEASE, 10).await.expect("claim")), vec![other.id]);
}
