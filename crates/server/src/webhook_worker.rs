//! Background delivery of webhooks: every instance runs one, claiming due deliveries from
//! the shared store (leases keep two instances from sending one delivery at once) and
//! sending each as its own task, so a receiver that hangs holds one slot for at most the
//! timeout and never the others, nor any request.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use portcullis_webhook_http::HttpWebhookTransport;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::wiring::Service;

/// How the worker runs (`[webhooks]`).
#[derive(Clone, Copy, Debug)]
pub struct WorkerOptions {
    /// Pause between two looks for due deliveries when the last look found none to spare.
    pub poll_interval: Duration,
    /// Tries in flight at once.
    pub max_in_flight: usize,
    /// One try's budget; a clean shutdown waits this long for tries in flight.
    pub timeout: Duration,
}

/// Claims and sends due deliveries until `cancel` fires, then waits (at most one try's
/// timeout) for the tries in flight. A try cut short by a crash is not lost: its lease runs
/// out and an instance sends it again.
pub async fn run(
    service: web::Data<Service>,
    metrics: Option<web::Data<Metrics>>,
    transport: HttpWebhookTransport,
    options: WorkerOptions,
    cancel: CancellationToken,
) {
    let transport = Arc::new(transport);
    let slots = Arc::new(Semaphore::new(options.max_in_flight.max(1)));
    let mut tries: JoinSet<()> = JoinSet::new();
    loop {
        while tries.try_join_next().is_some() {}
        let free = slots.available_permits();
        let mut busy = false;
        if free > 0 {
            match service.claim_webhook_deliveries(u32::try_from(free).unwrap_or(u32::MAX)).await {
                Ok(due) => {
                    busy = due.len() == free;
                    for delivery in due {
                        let Ok(permit) = slots.clone().acquire_owned().await else { break };
                        let (service, metrics, transport) = (service.clone(), metrics.clone(), transport.clone());
                        tries.spawn(async move {
                            match service.attempt_delivery(&*transport, delivery).await {
                                Ok(result) => {
                                    if let Some(metrics) = &metrics {
                                        metrics.observe_webhook_try(result);
                                    }
                                }
                                Err(e) => tracing::warn!(error = %e, "recording a webhook try failed; its lease will expire and it is tried again"),
                            }
                            drop(permit);
                        });
                    }
                }
                Err(e) => tracing::warn!(error = %e, "webhook queue unavailable; will retry"),
            }
        }
        // With every slot taken or a full claim, look again soon; otherwise wait the interval.
        let pause = if busy || free == 0 {
            options.poll_interval.min(Duration::from_millis(50))
        } else {
            options.poll_interval
        };
        tokio::select! {
            () = cancel.cancelled() => break,
            () = tokio::time::sleep(pause) => {}
        }
    }
    let _ = tokio::time::timeout(options.timeout, async { while tries.join_next().await.is_some() {} }).await;
    tries.abort_all();
}
