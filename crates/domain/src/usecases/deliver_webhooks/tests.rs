//! `outcome_of`: what one finished try means for its delivery.

use std::time::Duration;

use super::*;
use crate::model::{RETRY_SCHEDULE, TargetRefusal};

const AT: Timestamp = Timestamp::from_unix_millis(1_772_945_185_344);

fn answered(status: u16) -> WebhookResponse {
    WebhookResponse::Answered { status, retry_after: None }
}

fn retry_at(outcome: &TryOutcome) -> Timestamp {
    match outcome {
        TryOutcome::Retry { next_attempt_at, .. } => *next_attempt_at,
        other => panic!("not a retry: {other:?}"),
    }
}

#[test]
fn a_2xx_is_delivered() {
    for status in [200, 201, 202, 204, 299] {
        assert_eq!(
            outcome_of(answered(status), 1, AT),
            (TryOutcome::Delivered { status }, TryResult::Delivered),
            "{status}"
        );
    }
    // Even on the last allowed try.
    assert_eq!(outcome_of(answered(200), MAX_ATTEMPTS, AT).1, TryResult::Delivered);
}

#[test]
fn a_410_gives_up_and_disables_the_endpoint() {
    for attempts in [1, 4, MAX_ATTEMPTS] {
        let (outcome, result) = outcome_of(answered(410), attempts, AT);
        assert_eq!(result, TryResult::Gone);
        match outcome {
            TryOutcome::GiveUp { status, error, disable_endpoint } => {
                assert_eq!((status, disable_endpoint), (Some(410), true));
                assert!(error.contains("410"), "{error}");
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn a_500_on_the_first_try_retries_five_seconds_later() {
    let (outcome, result) = outcome_of(answered(500), 1, AT);
    assert_eq!(result, TryResult::Retried);
    assert_eq!(
        outcome,
        TryOutcome::Retry {
            status: Some(500),
            error: "answered 500".to_owned(),
            next_attempt_at: AT.plus(Duration::from_secs(5)),
        }
    );
}

#[test]
fn any_other_status_is_retried_on_the_schedule() {
    for status in [100, 301, 302, 400, 401, 404, 408, 429, 502, 503] {
        let (outcome, result) = outcome_of(answered(status), 2, AT);
        assert_eq!(result, TryResult::Retried, "{status}");
        assert_eq!(retry_at(&outcome), AT.plus(Duration::from_secs(300)), "{status}");
    }
    for (attempts, wait) in (1..MAX_ATTEMPTS).zip(RETRY_SCHEDULE) {
        assert_eq!(retry_at(&outcome_of(answered(503), attempts, AT).0), AT.plus(wait), "try {attempts}");
    }
}

#[test]
fn the_eighth_failure_gives_up_without_disabling() {
    assert_eq!(MAX_ATTEMPTS, 8);
    let (outcome, result) = outcome_of(answered(500), 8, AT);
    assert_eq!(result, TryResult::Failed);
    assert_eq!(
        outcome,
        TryOutcome::GiveUp { status: Some(500), error: "answered 500".to_owned(), disable_endpoint: false }
    );
    // A delivery an admin retried past the limit fails again after one more try.
    assert_eq!(outcome_of(answered(500), 9, AT).1, TryResult::Failed);
    let (outcome, result) = outcome_of(WebhookResponse::TimedOut, 8, AT);
    assert_eq!(result, TryResult::Failed);
    assert!(matches!(outcome, TryOutcome::GiveUp { status: None, disable_endpoint: false, .. }), "{outcome:?}");
}

#[test]
fn retry_after_is_honoured() {
    let response = WebhookResponse::Answered { status: 500, retry_after: Some("3600".to_owned()) };
    let (outcome, result) = outcome_of(response, 1, AT);
    assert_eq!(result, TryResult::Retried);
    assert_eq!(retry_at(&outcome), AT.plus(Duration::from_secs(3600)));

    let shorter = WebhookResponse::Answered { status: 503, retry_after: Some("1".to_owned()) };
    assert_eq!(retry_at(&outcome_of(shorter, 3, AT).0), AT.plus(Duration::from_secs(30 * 60)));
    let absurd = WebhookResponse::Answered { status: 429, retry_after: Some("999999999".to_owned()) };
    assert_eq!(retry_at(&outcome_of(absurd, 1, AT).0), AT.plus(Duration::from_secs(10 * 3600)));
    let garbage = WebhookResponse::Answered { status: 429, retry_after: Some("later".to_owned()) };
    assert_eq!(retry_at(&outcome_of(garbage, 1, AT).0), AT.plus(Duration::from_secs(5)));
    // A 2xx or a 410 ignores it.
    let ok = WebhookResponse::Answered { status: 200, retry_after: Some("3600".to_owned()) };
    assert_eq!(outcome_of(ok, 1, AT).1, TryResult::Delivered);
    let gone = WebhookResponse::Answered { status: 410, retry_after: Some("3600".to_owned()) };
    assert_eq!(outcome_of(gone, 1, AT).1, TryResult::Gone);
}

#[test]
fn transport_failures_are_retried_with_an_error_text() {
    let cases = [
        (WebhookResponse::TimedOut, "timed out"),
        (WebhookResponse::Failed("connection refused".to_owned()), "connection refused"),
        (WebhookResponse::Refused(TargetRefusal::PrivateAddress("10.0.0.5".parse().expect("an address"))), "10.0.0.5"),
        (WebhookResponse::Refused(TargetRefusal::Unresolvable), "refused"),
    ];
    for (response, text) in cases {
        let (outcome, result) = outcome_of(response.clone(), 1, AT);
        assert_eq!(result, TryResult::Retried, "{response:?}");
        match outcome {
            TryOutcome::Retry { status, error, next_attempt_at } => {
                assert_eq!(status, None);
                assert!(error.contains(text), "{error:?} lacks {text:?}");
                assert_eq!(next_attempt_at, AT.plus(Duration::from_secs(5)));
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn the_lease_outlasts_the_try() {
    assert_eq!(webhook_lease(Duration::from_secs(10)), Duration::from_secs(50));
    assert_eq!(webhook_lease(Duration::ZERO), Duration::from_secs(30));
}

#[test]
fn a_round_counts_each_result() {
    let mut round = WebhookRound::default();
    for result in [TryResult::Delivered, TryResult::Delivered, TryResult::Retried, TryResult::Failed, TryResult::Gone] {
        round.count(result);
    }
    assert_eq!(round, WebhookRound { delivered: 2, retried: 1, failed: 2, gone: 1 });
    let names: Vec<&str> =
        [TryResult::Delivered, TryResult::Retried, TryResult::Failed, TryResult::Gone].map(TryResult::as_str).to_vec();
    assert_eq!(names, ["delivered", "retried", "failed", "gone"]);
}
