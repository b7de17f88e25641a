//! `GET /metrics`: Prometheus series for operators (text format 0.0.4).
//!
//! Two kinds of series. Events are counted as they happen, into [`Metrics`]: HTTP requests
//! (by the [`middleware`]), login outcomes (by the login handler, from the use case's
//! result, so the domain knows nothing of metrics), hashing-queue waits (a callback on the
//! hashing threads) and mail delivery rounds (by the worker). State is read when scraped
//! ([`scrape`]): hashing queue depth, store pool usage, mail outbox depth.
//!
//! Like the health endpoints it needs no token: serve it only where the scraper can reach
//! it (an internal port or network, or a proxy rule), not to the internet. Its labels carry
//! no ids, addresses or raw paths ([`labels`]). `server.metrics_enabled = false` removes it.

pub mod labels;
pub mod middleware;
pub mod scrape;

use std::time::Duration;

use portcullis_domain::{
    DeliveryReport, LoginError, LoginOutcome, MfaVerifyError, PasskeySignInError, SecondFactor, TryResult,
};
use prometheus::{Histogram, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

use crate::wiring::AdapterGauges;

/// Upper bounds of the request-latency buckets, in seconds.
const HTTP_BUCKETS: [f64; 13] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Upper bounds of the hashing-queue wait buckets, in seconds: a full default queue is about
/// one second of work.
const WAIT_BUCKETS: [f64; 13] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

/// A series could not be registered (a bug: names and labels are fixed).
#[derive(Debug, thiserror::Error)]
#[error("metrics registry: {0}")]
pub struct MetricsError(#[from] prometheus::Error);

/// The counted series of one server. Shared by every HTTP worker as `web::Data<Metrics>`.
pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    logins: IntCounterVec,
    passkey_logins: IntCounterVec,
    code_logins: IntCounterVec,
    mfa: IntCounterVec,
    hash_wait: Histogram,
    mail_deliveries: IntCounterVec,
    webhook_tries: IntCounterVec,
    gauges: AdapterGauges,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Registers every counted series (login series at 0 for each outcome and reason); the
    /// adapters' `gauges` are read at each scrape.
    ///
    /// # Errors
    /// [`MetricsError`] if a series is refused, which fixed names never are.
    pub fn new(gauges: AdapterGauges) -> Result<Self, MetricsError> {
        let registry = Registry::new();
        let http_labels = ["method", "route", "status"];
        let http_requests = IntCounterVec::new(
            Opts::new("portcullis_http_requests_total", "HTTP requests by method, route pattern and status."),
            &http_labels,
        )?;
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "portcullis_http_request_duration_seconds",
                "Time to the response head, by method, route pattern and status.",
            )
            .buckets(HTTP_BUCKETS.to_vec()),
            &http_labels,
        )?;
        let logins = IntCounterVec::new(
            Opts::new("portcullis_logins_total", "Password logins by outcome (success, failure) and reason."),
            &["outcome", "reason"],
        )?;
        let passkey_logins = IntCounterVec::new(
            Opts::new(
                "portcullis_passkey_logins_total",
                "Sign-ins with a passkey and no password (POST /auth/passkey/login) by outcome and reason.",
            ),
            &["outcome", "reason"],
        )?;
        let code_logins = IntCounterVec::new(
            Opts::new(
                "portcullis_code_logins_total",
                "Sign-ins with a mailed code and no password (POST /auth/login/code/verify) by outcome and reason.",
            ),
            &["outcome", "reason"],
        )?;
        let mfa = IntCounterVec::new(
            Opts::new(
                "portcullis_mfa_verifications_total",
                "Second steps of sign-ins (POST /auth/mfa/verify) by factor (totp, recovery_code, webauthn) and outcome.",
            ),
            &["factor", "outcome"],
        )?;
        let hash_wait = Histogram::with_opts(
            HistogramOpts::new(
                "portcullis_hash_queue_wait_seconds",
                "Time a password-hashing job waited in the queue before a thread took it.",
            )
            .buckets(WAIT_BUCKETS.to_vec()),
        )?;
        let mail_deliveries = IntCounterVec::new(
            Opts::new(
                "portcullis_mail_deliveries_total",
                "Outbox delivery attempts by result: sent, retried (temporary failure), dropped (permanent failure) or abandoned (last try failed).",
            ),
            &["result"],
        )?;
        let webhook_tries = IntCounterVec::new(
            Opts::new(
                "portcullis_webhook_deliveries_total",
                "Webhook delivery tries by outcome: delivered (2xx), retried (failed, rescheduled), failed (last try failed) or gone (410: the endpoint was turned off).",
            ),
            &["outcome"],
        )?;
        registry.register(Box::new(http_requests.clone()))?;
        registry.register(Box::new(http_duration.clone()))?;
        registry.register(Box::new(logins.clone()))?;
        registry.register(Box::new(passkey_logins.clone()))?;
        registry.register(Box::new(code_logins.clone()))?;
        registry.register(Box::new(mfa.clone()))?;
        registry.register(Box::new(hash_wait.clone()))?;
        registry.register(Box::new(mail_deliveries.clone()))?;
        registry.register(Box::new(webhook_tries.clone()))?;
        // Created at 0, so dashboards and alerts see every series before its first event.
        for counter in [&logins, &code_logins] {
            counter.with_label_values(&[labels::SUCCESS, labels::NO_REASON]).inc_by(0);
            for reason in labels::LOGIN_FAILURE_REASONS {
                counter.with_label_values(&[labels::FAILURE, reason]).inc_by(0);
            }
        }
        passkey_logins.with_label_values(&[labels::SUCCESS, labels::NO_REASON]).inc_by(0);
        for reason in labels::PASSKEY_LOGIN_FAILURE_REASONS {
            passkey_logins.with_label_values(&[labels::FAILURE, reason]).inc_by(0);
        }
        for factor in labels::MFA_FACTORS {
            for outcome in labels::MFA_OUTCOMES {
                mfa.with_label_values(&[factor, outcome]).inc_by(0);
            }
        }
        for result in ["sent", "retried", "dropped", "abandoned"] {
            mail_deliveries.with_label_values(&[result]).inc_by(0);
        }
        for outcome in [TryResult::Delivered, TryResult::Retried, TryResult::Failed, TryResult::Gone] {
            webhook_tries.with_label_values(&[outcome.as_str()]).inc_by(0);
        }
        Ok(Self {
            registry,
            http_requests,
            http_duration,
            logins,
            passkey_logins,
            code_logins,
            mfa,
            hash_wait,
            mail_deliveries,
            webhook_tries,
            gauges,
        })
    }

    /// [`Metrics::new`], with the hashing threads reporting their queue waits.
    ///
    /// # Errors
    /// As [`Metrics::new`].
    pub fn for_adapters(gauges: AdapterGauges) -> Result<Self, MetricsError> {
        let metrics = Self::new(gauges)?;
        let wait = metrics.hash_wait.clone();
        if !metrics.gauges.hashing.observe_wait(move |waited| wait.observe(waited.as_secs_f64())) {
            tracing::warn!("the hashing pool already reports to other metrics; queue waits are not exported");
        }
        Ok(metrics)
    }

    /// Counts one request. `route` must come from [`labels::route`], `method` from
    /// [`labels::method`].
    pub fn observe_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let status = status.to_string();
        let values = [method, route, status.as_str()];
        self.http_requests.with_label_values(&values).inc();
        self.http_duration.with_label_values(&values).observe(elapsed.as_secs_f64());
    }

    /// Counts a login by the use case's result.
    pub fn observe_login(&self, result: &Result<LoginOutcome, LoginError>) {
        let (outcome, reason) = labels::login(result);
        self.logins.with_label_values(&[outcome, reason]).inc();
    }

    /// Counts a sign-in with a mailed code by the use case's result (the reasons of
    /// [`Self::observe_login`]).
    pub fn observe_code_login(&self, result: &Result<LoginOutcome, LoginError>) {
        let (outcome, reason) = labels::login(result);
        self.code_logins.with_label_values(&[outcome, reason]).inc();
    }

    /// Counts a sign-in with a mailed code the handler refused before the use case.
    pub fn observe_invalid_code_login(&self) {
        self.code_logins.with_label_values(&[labels::FAILURE, labels::INVALID_REQUEST]).inc();
    }

    /// Counts a passkey sign-in by the use case's result.
    pub fn observe_passkey_login(&self, result: &Result<LoginOutcome, PasskeySignInError>) {
        let (outcome, reason) = labels::passkey_login(result);
        self.passkey_logins.with_label_values(&[outcome, reason]).inc();
    }

    /// Counts a passkey sign-in the handler refused before the use case (no credential object).
    pub fn observe_invalid_passkey_login(&self) {
        self.passkey_logins.with_label_values(&[labels::FAILURE, labels::INVALID_REQUEST]).inc();
    }

    /// Counts a second step by the use case's result.
    pub fn observe_mfa(&self, factor: SecondFactor, result: &Result<LoginOutcome, MfaVerifyError>) {
        self.mfa.with_label_values(&[factor.as_str(), labels::mfa(result)]).inc();
    }

    /// Counts a login the handler refused before the use case (malformed input).
    pub fn observe_invalid_login(&self) {
        self.logins.with_label_values(&[labels::FAILURE, labels::INVALID_REQUEST]).inc();
    }

    /// Counts one round of the mail worker.
    pub fn observe_mail_round(&self, report: &DeliveryReport) {
        for (result, n) in [
            ("sent", report.sent),
            ("retried", report.retried),
            ("dropped", report.dropped),
            ("abandoned", report.abandoned),
        ] {
            if n > 0 {
                self.mail_deliveries.with_label_values(&[result]).inc_by(u64::from(n));
            }
        }
    }

    /// Counts one webhook try.
    pub fn observe_webhook_try(&self, result: TryResult) {
        self.webhook_tries.with_label_values(&[result.as_str()]).inc();
    }

    /// The counted series, for [`scrape`].
    pub(crate) fn gather(&self) -> Vec<prometheus::proto::MetricFamily> {
        self.registry.gather()
    }
}
