//! Builds and runs the server: wiring, listener, background worker, graceful shutdown.

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{HttpServer, web};
use portcullis_mailer_lettre::LettreMailer;
use portcullis_webhook_http::HttpWebhookTransport;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::http::{self, client_ip::TrustedProxies};
use crate::metrics::{Metrics, MetricsError};
use crate::wiring::{Service, Wired, WiringError, build_service};
use crate::worker;

/// A built, bound, not yet running server.
pub struct Application {
    server: Server,
    port: u16,
    service: web::Data<Service>,
    metrics: Option<web::Data<Metrics>>,
    mailer: LettreMailer,
    poll_interval: Duration,
    webhooks: HttpWebhookTransport,
    webhook_options: crate::webhook_worker::WorkerOptions,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration is unsafe for its environment.
    #[error(transparent)]
    Refused(#[from] crate::production::Refused),
    /// Wiring failed.
    #[error(transparent)]
    Wiring(#[from] WiringError),
    /// The metrics registry could not be built.
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    /// The listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address.
        addr: std::net::SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
}

impl Application {
    /// Opens the store (running migrations), loads keys, binds `server.addr` (port 0 picks a
    /// free port) and prepares the HTTP workers.
    ///
    /// # Errors
    /// [`StartError`] naming what failed.
    pub async fn build(settings: &Settings) -> Result<Self, StartError> {
        crate::production::check(settings)?;
        if settings.server.environment == crate::config::Environment::Development {
            tracing::info!("development environment: missing keys are created; production sets server.environment");
        }
        let Wired { service, mailer, webhooks, gauges } = build_service(settings).await?;
        let service = web::Data::from(service);
        let metrics =
            if settings.server.metrics_enabled { Some(web::Data::new(Metrics::for_adapters(gauges)?)) } else { None };
        let trusted = web::Data::new(TrustedProxies(settings.server.trusted_proxies.clone()));
        let addr = settings.server.addr;
        let listener = TcpListener::bind(addr).map_err(|source| StartError::Bind { addr, source })?;
        let port = listener.local_addr().map_err(|source| StartError::Bind { addr, source })?.port();
        let (app_service, app_metrics) = (service.clone(), metrics.clone());
        let options = web::Data::new(http::HttpOptions {
            passkey_demo: settings.webauthn.demo_page,
            ..http::HttpOptions::from_settings(&settings.server)
        });
        let request_timeout = options.body_timeout;
        let app_webhooks = web::Data::new(webhooks.clone());
        let mut server = HttpServer::new(move || {
            http::app(app_service.clone(), trusted.clone(), app_metrics.clone(), options.clone(), app_webhooks.clone())
        })
        .shutdown_timeout(settings.server.shutdown_timeout_secs)
        // The request head; the body has the same budget in the JSON extractor.
        .client_request_timeout(request_timeout);
        if settings.server.workers > 0 {
            server = server.workers(settings.server.workers);
        }
        let server = server.listen(listener).map_err(|source| StartError::Bind { addr, source })?.run();
        tracing::info!(%addr, port, "portcullis listening");
        Ok(Self {
            server,
            port,
            service,
            metrics,
            mailer,
            poll_interval: Duration::from_millis(settings.mailer.poll_interval_ms.max(10)),
            webhooks,
            webhook_options: crate::webhook_worker::WorkerOptions {
                poll_interval: Duration::from_millis(settings.webhooks.poll_interval_ms.max(10)),
                max_in_flight: settings.webhooks.max_in_flight.max(1),
                timeout: Duration::from_secs(settings.webhooks.timeout_secs.max(1)),
            },
        })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The service the server runs, for callers that use the use cases directly, as the
    /// operator's command line does (the end-to-end harness grants roles through it).
    pub fn service(&self) -> web::Data<Service> {
        self.service.clone()
    }

    /// Serves until SIGINT/SIGTERM, finishing in-flight requests, then stops the mail worker
    /// after one last delivery round.
    ///
    /// # Errors
    /// An I/O error of the server.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let cancel = CancellationToken::new();
        let worker = actix_web::rt::spawn(worker::run(
            self.service.clone(),
            self.metrics.clone(),
            self.mailer,
            self.poll_interval,
            cancel.clone(),
        ));
        let webhook_worker = actix_web::rt::spawn(crate::webhook_worker::run(
            self.service.clone(),
            self.metrics.clone(),
            self.webhooks,
            self.webhook_options,
            cancel.clone(),
        ));
        let result = self.server.await;
        cancel.cancel();
        let _ = worker.await;
        let _ = webhook_worker.await;
        tracing::info!("portcullis stopped");
        result
    }
}
