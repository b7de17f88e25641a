//! Which adapter serves which port in the `portcullis` server, and how they are built from
//! [`Settings`].

use std::sync::Arc;
use std::time::Duration;

use portcullis_crypto::{
    Argon2Config, Argon2Engine, Argon2Hasher, HashPoolGauge, HmacSecretHasher, MfaSecretCipher, OsRandom, PasetoIssuer,
};
use portcullis_device_uap::UapDeviceDetector;
use portcullis_domain::model::Device;
use portcullis_domain::ports::{DeviceDetector, Ports, SystemClock};
use portcullis_domain::{Deps, Portcullis};
use portcullis_geo_maxmind::OptionalGeo;
use portcullis_mailer_lettre::{LettreMailer, MailerSettings, TransportKind};
use portcullis_store_diesel::{DbConfig, DieselStore, PoolGauge};
use portcullis_webauthn::WebauthnCeremonies;
use portcullis_webhook_http::HttpWebhookTransport;

use crate::breach::{BreachGauge, Breaches};
use crate::config::Settings;

/// The production adapter set.
pub struct ServerPorts;

impl Ports for ServerPorts {
    type Store = DieselStore;
    type Hasher = Argon2Hasher;
    type Tokens = PasetoIssuer;
    type Secrets = HmacSecretHasher;
    type Random = OsRandom;
    type Clock = SystemClock;
    // No database configured (or an unreadable one): every location is unknown.
    type Geo = OptionalGeo;
    type Devices = Devices;
    type Cipher = MfaSecretCipher;
    type Passkeys = WebauthnCeremonies;
    type Breaches = Breaches;
}

/// User-agent parsing when `devices.enabled`, otherwise every device unknown.
pub struct Devices(Option<UapDeviceDetector>);

impl DeviceDetector for Devices {
    fn detect(&self, user_agent: &str) -> Device {
        self.0.as_ref().map(|d| d.detect(user_agent)).unwrap_or_default()
    }
}

/// The service as the server runs it.
pub type Service = Portcullis<ServerPorts>;

/// Why the server could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum WiringError {
    /// The store could not be opened or migrated.
    #[error("database: {}", error_chain(.0))]
    Store(#[from] portcullis_domain::ports::StoreError),
    /// The user-agent rules could not be compiled.
    #[error("devices: {0}")]
    Devices(#[from] portcullis_device_uap::DeviceError),
    /// A key file could not be read or created, or hashing parameters are invalid.
    #[error("crypto: {0}")]
    Crypto(#[from] portcullis_crypto::CryptoError),
    /// The mailer settings are invalid.
    #[error("mailer: {0}")]
    Mailer(#[from] portcullis_mailer_lettre::MailerError),
    /// Anything else in the settings.
    #[error("configuration: {0}")]
    Config(String),
    /// A replaced mail template is unusable.
    #[error("mailer.templates_dir: {0}")]
    Templates(String),
}

/// `error` and its causes, outermost first, joined by `: ` (the store's errors say "store
/// failure" and keep the reason, such as an unsupported URL scheme, in their source). No
/// cause in the chain carries a database URL or its password.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        text.push_str(": ");
        text.push_str(&e.to_string());
        cause = e.source();
    }
    text
}

/// The store settings of `settings`.
pub fn db_config(settings: &Settings) -> DbConfig {
    DbConfig {
        url: settings.database.url.clone(),
        max_connections: settings.database.max_connections.max(1),
        acquire_timeout: Duration::from_millis(settings.database.acquire_timeout_ms),
        query_timeout: Duration::from_millis(settings.database.query_timeout_ms),
    }
}

/// The mailer settings of `settings`.
pub fn mailer_settings(settings: &Settings) -> Result<MailerSettings, WiringError> {
    let m = &settings.mailer;
    let transport = match m.transport.as_str() {
        "smtp" => TransportKind::Smtp,
        "file" => TransportKind::File,
        "log" => TransportKind::Log,
        other => return Err(WiringError::Config(format!("mailer.transport must be smtp, file or log, not {other:?}"))),
    };
    Ok(MailerSettings {
        transport,
        dir: m.dir.clone(),
        smtp_url: m.smtp_url.clone(),
        tls_ca_file: m.tls_ca_file.clone(),
        from: m.from.clone(),
        timeout: Duration::from_secs(m.timeout_secs.max(1)),
    })
}

/// What [`build_service`] wires.
pub struct Wired {
    /// The service; every caller goes through its use cases.
    pub service: Arc<Service>,
    /// The transport the mail worker delivers through.
    pub mailer: LettreMailer,
    /// The transport webhook deliveries (and the target checks of the admin API) go through.
    pub webhooks: HttpWebhookTransport,
    /// Read-only views of the adapters' own counters, for the metrics.
    pub gauges: AdapterGauges,
}

/// Counters the adapters keep about themselves (not about users), which the metrics read
/// without holding the adapters: the service owns those.
#[derive(Clone, Debug)]
pub struct AdapterGauges {
    /// The password-hashing pool's queue and timings.
    pub hashing: HashPoolGauge,
    /// The store's connection pool.
    pub pool: PoolGauge,
    /// Breached-password lookups by outcome.
    pub breaches: BreachGauge,
}

/// Builds the service and the mail transport from settings: opens (and migrates) the store,
/// loads or creates the key files, and starts the hashing pool.
///
/// # Errors
/// [`WiringError`] naming the part that failed.
pub async fn build_service(settings: &Settings) -> Result<Wired, WiringError> {
    let store = DieselStore::connect(&db_config(settings)).await?;
    let p = &settings.passwords;
    let defaults = Argon2Config::default();
    let engine = Argon2Engine::parse(&p.argon2_engine).ok_or_else(|| {
        WiringError::Config(format!(
            "passwords.argon2_engine must be argon2-rust or rustcrypto, not {:?}",
            p.argon2_engine
        ))
    })?;
    let hasher = Argon2Hasher::new(Argon2Config {
        memory_kib: p.argon2_memory_kib,
        iterations: p.argon2_iterations,
        parallelism: p.argon2_parallelism,
        workers: if p.hash_workers == 0 { defaults.workers } else { p.hash_workers },
        max_queue: p.hash_queue.max(1),
        engine,
        scrub_after: defaults.scrub_after,
    })?;
    // The current key and the retired ones of `portcullis keys rotate` (`<key_file>.retired`):
    // read once, here, so after a rotation every instance must be restarted to sign with the
    // new key.
    let tokens = PasetoIssuer::from_key_file(&settings.tokens.key_file)?;
    tracing::info!(key_id = tokens.key_id(), retired_keys = tokens.retired_key_ids().count(), "token keys loaded");
    let secrets = HmacSecretHasher::from_key_file(&settings.tokens.hash_key_file)?;
    let cipher = MfaSecretCipher::from_key_file(&settings.mfa.secret_key_file)?;
    let passkeys =
        WebauthnCeremonies::new(&settings.webauthn.relying_party()).map_err(|e| WiringError::Config(e.to_string()))?;
    // A missing or corrupt file logs one warning and leaves locations null: the server starts.
    let geo = OptionalGeo::open_or_warn(settings.geoip.city_db.as_deref());
    // Compiling the uap-core rules takes a fraction of a second: once, here, not on a login.
    let devices = Devices(if settings.devices.enabled {
        Some(UapDeviceDetector::with_cache_capacity(settings.devices.cache_capacity)?)
    } else {
        None
    });
    let mailer = LettreMailer::new(&mailer_settings(settings)?)?;
    let webhooks = webhook_transport(settings)?;
    let breaches = Breaches::from_settings(&settings.passwords)?;
    let gauges = AdapterGauges { hashing: hasher.gauge(), pool: store.pool_gauge(), breaches: breaches.gauge() };
    let deps = Deps::<ServerPorts> {
        store,
        hasher,
        tokens,
        secrets,
        random: OsRandom,
        clock: SystemClock,
        geo,
        devices,
        cipher,
        passkeys,
        breaches,
    };
    let mut service = Portcullis::new(deps, settings.policy());
    if let Some(dir) = &settings.mailer.templates_dir {
        service = service.with_mail_templates(crate::mail_templates::load(dir)?);
    }
    Ok(Wired { service: Arc::new(service), mailer, webhooks, gauges })
}

/// The webhook transport of `settings`: the target policy, and the extra roots of
/// `webhooks.tls_ca_file`.
///
/// # Errors
/// [`WiringError::Config`] when the CA file cannot be read or holds no certificate.
pub fn webhook_transport(settings: &Settings) -> Result<HttpWebhookTransport, WiringError> {
    let transport = HttpWebhookTransport::new(settings.webhooks.target_policy());
    match &settings.webhooks.tls_ca_file {
        None => Ok(transport),
        Some(path) => {
            let pem = std::fs::read(path)
                .map_err(|e| WiringError::Config(format!("webhooks.tls_ca_file {}: {e}", path.display())))?;
            transport
                .with_extra_roots(&pem)
                .map_err(|e| WiringError::Config(format!("webhooks.tls_ca_file {}: {e}", path.display())))
        }
    }
}
