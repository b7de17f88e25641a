//! `GET /metrics`: the counted series plus state read now (hashing queue, store pool, mail
//! outbox, webhook queue), in the Prometheus text format.

use std::time::Duration;

use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::{HttpResponse, web};
use portcullis_crypto::HashPoolStats;
use portcullis_domain::OutboxStatus;
use portcullis_domain::model::Timestamp;
use portcullis_domain::ports::{Clock, DeliveryBacklog, SystemClock};
use portcullis_store_diesel::PoolStatus;
use prometheus::proto::MetricFamily;
use prometheus::{Counter, Gauge, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};

use crate::breach::BreachLookupStats;
use crate::http::handlers::fallback;
use crate::http::problem::ApiError;
use crate::metrics::Metrics;
use crate::wiring::Service;

/// The media type of the Prometheus text format, version 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How long a scrape waits for the store's outbox counts. A slow store must not hang the
/// scrape (scrapers time out at 10 s by default): past this, the outbox series are left out
/// and `portcullis_store_up` is 0.
const STORE_BUDGET: Duration = Duration::from_secs(1);

/// Metrics in the Prometheus text format. Unauthenticated, like the health checks: expose it
/// only to the scraper. 404 when `server.metrics_enabled` is false.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses(
    (status = 200, content_type = "text/plain; version=0.0.4; charset=utf-8", body = String,
     description = "Prometheus text format: requests and latency by route pattern and status, login outcomes by reason, hashing queue, mail outbox, store pool. No token needed: do not expose it publicly."),
    (status = 404, body = crate::http::dto::Problem, content_type = "application/problem+json", description = "NOT_FOUND when metrics are disabled"),
))]
pub async fn metrics(
    service: web::Data<Service>,
    metrics: Option<web::Data<Metrics>>,
) -> Result<HttpResponse, ApiError> {
    let Some(metrics) = metrics else { return fallback::not_found().await };
    let outbox = read_outbox(&service).await;
    let webhooks = read_webhooks(&service).await;
    let state = State {
        hash: metrics.gauges.hashing.stats(),
        pool: metrics.gauges.pool.status(),
        breaches: metrics.gauges.breaches.stats(),
        outbox,
        webhooks,
    };
    let mut families = metrics.gather();
    families.extend(state.families().map_err(ApiError::internal)?);
    families.sort_by(|a, b| a.name().cmp(b.name()));
    let mut body = String::new();
    TextEncoder::new().encode_utf8(&families, &mut body).map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type(CONTENT_TYPE)
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .body(body))
}

/// Outbox depth and failed count, or `None` when the store does not answer within
/// [`STORE_BUDGET`].
async fn read_outbox(service: &Service) -> Option<OutboxStatus> {
    match tokio::time::timeout(STORE_BUDGET, service.mail_outbox_status()).await {
        Ok(Ok(status)) => Some(status),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "metrics: mail outbox unreadable");
            None
        }
        Err(_) => {
            tracing::debug!("metrics: mail outbox counts timed out");
            None
        }
    }
}

/// The webhook queue's depth and the age of its oldest pending delivery, or `None` when the
/// store does not answer within [`STORE_BUDGET`].
async fn read_webhooks(service: &Service) -> Option<(DeliveryBacklog, Timestamp)> {
    match tokio::time::timeout(STORE_BUDGET, service.webhook_backlog()).await {
        Ok(Ok(backlog)) => Some((backlog, SystemClock.now())),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "metrics: webhook queue unreadable");
            None
        }
        Err(_) => {
            tracing::debug!("metrics: webhook queue counts timed out");
            None
        }
    }
}

/// What a scrape reads now.
struct State {
    hash: HashPoolStats,
    pool: PoolStatus,
    breaches: BreachLookupStats,
    outbox: Option<OutboxStatus>,
    webhooks: Option<(DeliveryBacklog, Timestamp)>,
}

impl State {
    /// The state as series of a throwaway registry, so a series can be left out (the
    /// outbox while the store is down) rather than showing a stale value.
    fn families(&self) -> Result<Vec<MetricFamily>, prometheus::Error> {
        let r = Registry::new();
        let h = &self.hash;
        gauge(&r, "portcullis_hash_queue_depth", "Password-hashing jobs waiting for a thread.", h.queued)?;
        gauge(
            &r,
            "portcullis_hash_queue_capacity",
            "Jobs that may wait (passwords.hash_queue); beyond, 503.",
            h.capacity,
        )?;
        gauge(&r, "portcullis_hash_workers", "Password-hashing threads (passwords.hash_workers).", h.workers)?;
        let busy = IntCounter::new(
            "portcullis_hash_busy_rejections_total",
            "Password-hashing jobs refused because the queue was full (answered 503).",
        )?;
        busy.inc_by(h.busy_rejections);
        r.register(Box::new(busy))?;
        let jobs = IntCounter::new("portcullis_hash_jobs_total", "Password hashes and verifications finished.")?;
        jobs.inc_by(h.finished);
        r.register(Box::new(jobs))?;
        let seconds = Counter::new(
            "portcullis_hash_seconds_total",
            "Thread time spent hashing and verifying passwords; divided by portcullis_hash_jobs_total, the cost of one hash.",
        )?;
        seconds.inc_by(h.hashing_time.as_secs_f64());
        r.register(Box::new(seconds))?;

        let p = &self.pool;
        let connections = IntGaugeVec::new(
            Opts::new("portcullis_store_pool_connections", "Open store connections by state (in_use, idle)."),
            &["state"],
        )?;
        connections.with_label_values(&["in_use"]).set(saturate(p.in_use));
        connections.with_label_values(&["idle"]).set(saturate(p.idle));
        r.register(Box::new(connections))?;
        gauge(&r, "portcullis_store_pool_max_connections", "Store pool bound (database.max_connections).", p.max)?;
        gauge(&r, "portcullis_store_pool_waiting", "Store operations waiting for a connection.", p.waiting)?;

        let b = &self.breaches;
        let lookups = IntCounterVec::new(
            Opts::new(
                "portcullis_breach_lookups_total",
                "Breached-password lookups of new passwords by outcome: unlisted, listed (in the source, refused at passwords.breach_min_count), failed, timeout (the last two follow passwords.breach_fail_open).",
            ),
            &["outcome"],
        )?;
        for (outcome, count) in
            [("unlisted", b.unlisted), ("listed", b.listed), ("failed", b.failed), ("timeout", b.timed_out)]
        {
            lookups.with_label_values(&[outcome]).inc_by(count);
        }
        r.register(Box::new(lookups))?;

        let up = IntGauge::new("portcullis_store_up", "1 if the store answered this scrape in time, else 0.")?;
        up.set(i64::from(self.outbox.is_some()));
        r.register(Box::new(up))?;
        if let Some(OutboxStatus { pending: depth, failed, .. }) = self.outbox {
            gauge(&r, "portcullis_mail_outbox_depth", "Mail waiting for delivery (failed mail excluded).", depth)?;
            gauge(&r, "portcullis_mail_outbox_failed", "Mail given up on and kept for operators.", failed)?;
        }
        if let Some((backlog, now)) = self.webhooks {
            gauge(
                &r,
                "portcullis_webhook_queue_depth",
                "Webhook deliveries pending (due or waiting for a retry) to enabled endpoints.",
                backlog.pending,
            )?;
            let age = backlog.oldest_pending_since.map_or(0.0, |since| since.until(now).as_secs_f64());
            let oldest = Gauge::new(
                "portcullis_webhook_oldest_pending_seconds",
                "Age of the oldest pending webhook delivery (0 when none): how far behind the receivers are.",
            )?;
            oldest.set(age);
            r.register(Box::new(oldest))?;
            gauge(
                &r,
                "portcullis_webhook_failed",
                "Webhook deliveries given up and kept (retryable by an admin).",
                backlog.failed,
            )?;
        }
        Ok(r.gather())
    }
}

fn gauge(r: &Registry, name: &str, help: &str, value: impl TryInto<i64>) -> Result<(), prometheus::Error> {
    let g = IntGauge::new(name, help)?;
    g.set(saturate(value));
    r.register(Box::new(g))
}

fn saturate(value: impl TryInto<i64>) -> i64 {
    value.try_into().unwrap_or(i64::MAX)
}
