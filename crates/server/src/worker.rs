//! Background work: draining the mail outbox and pruning old rate-limit events.

use std::time::Duration;

use actix_web::web;
use portcullis_domain::ports::MailTransport;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::wiring::Service;

/// Messages handed to the transport per round.
const BATCH: u32 = 50;
/// How often old rate events and ended sessions are pruned (how long each is kept is the
/// policy's `rate_event_retention` and `ended_session_retention`).
const PURGE_EVERY: Duration = Duration::from_secs(600);

/// Delivers queued mail every `interval` (at once again after a full batch) until `cancel`
/// fires, then makes one last round so that a clean shutdown does not strand mail queued by
/// the final requests. Failures are logged and retried later: the outbox keeps every message
/// until it is accepted. Each round is counted in `metrics`, when given.
pub async fn run<T: MailTransport>(
    service: web::Data<Service>,
    metrics: Option<web::Data<Metrics>>,
    transport: T,
    interval: Duration,
    cancel: CancellationToken,
) {
    let mut last_purge: Option<tokio::time::Instant> = None;
    let mut backlog = false;
    loop {
        // After a full batch more mail is waiting: take the next one at once, or a sustained
        // login peak (an alert per login) queues faster than one batch per interval drains.
        let stopping = if backlog {
            cancel.is_cancelled()
        } else {
            tokio::select! {
                () = cancel.cancelled() => true,
                () = tokio::time::sleep(interval) => false,
            }
        };
        let round = service.deliver_mail(&transport, BATCH).await;
        backlog = round.as_ref().is_ok_and(|r| r.sent + r.retried + r.dropped + r.abandoned >= BATCH);
        if let (Ok(report), Some(metrics)) = (&round, &metrics) {
            metrics.observe_mail_round(report);
        }
        match round {
            Ok(report) if report.sent + report.retried + report.dropped > 0 => {
                tracing::info!(
                    sent = report.sent,
                    retried = report.retried,
                    dropped = report.dropped,
                    "mail outbox round"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "mail outbox unavailable; will retry"),
        }
        if last_purge.is_none_or(|t| t.elapsed() >= PURGE_EVERY) {
            last_purge = Some(tokio::time::Instant::now());
            if let Err(e) = service.purge_rate_events().await {
                tracing::warn!(error = %e, "pruning rate-limit events failed");
            }
            if let Err(e) = service.purge_ended_sessions().await {
                tracing::warn!(error = %e, "pruning ended sessions failed");
            }
            if let Err(e) = service.purge_stale_enrolments().await {
                tracing::warn!(error = %e, "pruning unconfirmed second-factor enrolments failed");
            }
            if let Err(e) = service.purge_webhook_deliveries().await {
                tracing::warn!(error = %e, "pruning old webhook deliveries failed");
            }
            match service.purge_deleted_accounts().await {
                Ok(report) => {
                    if report.erased > 0 {
                        tracing::info!(erased = report.erased, "deleted accounts past their retention erased");
                    }
                    if report.failed > 0 {
                        tracing::warn!(failed = report.failed, "some deleted accounts could not be erased; will retry");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "erasing deleted accounts failed; will retry"),
            }
            // Failed mail stays until an operator looks: say so now and then, not only once.
            match service.mail_outbox_status().await {
                Ok(status) if status.failed == 0 => {}
                Ok(status) => tracing::warn!(failed = status.failed, "mail outbox holds messages that were given up"),
                Err(e) => tracing::debug!(error = %e, "counting failed mail"),
            }
        }
        if stopping {
            break;
        }
    }
}
