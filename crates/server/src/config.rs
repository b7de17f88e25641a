//! Layered configuration: built-in defaults, then `config/default.toml`, then the `--config`
//! file, then `PORTCULLIS__SECTION__KEY` environment variables, then `DATABASE_URL`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// Everything the server reads at start.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// HTTP listener and proxies.
    pub server: ServerSettings,
    /// The store.
    pub database: DatabaseSettings,
    /// Outgoing mail.
    pub mailer: MailerSection,
    /// IP geolocation.
    pub geoip: GeoIpSettings,
    /// User-agent parsing.
    pub devices: DeviceSettings,
    /// Access tokens and keyed hashing.
    pub tokens: TokenSettings,
    /// Second factors.
    pub mfa: MfaSettings,
    /// Passkeys (the WebAuthn relying party).
    pub webauthn: WebauthnSettings,
    /// `[webhooks]`
    pub webhooks: WebhookSettings,
    /// Rate limits and lockout.
    pub limits: LimitSettings,
    /// Password policy and hashing cost.
    pub passwords: PasswordSettings,
    /// `[accounts]`: what happens to deleted accounts.
    pub accounts: AccountSettings,
    /// Logging.
    pub log: LogSettings,
}

/// `[server]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// Listen address.
    pub addr: SocketAddr,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Base URL for links in mail.
    pub public_url: String,
    /// HTTP worker threads (0: one per core).
    pub workers: usize,
    /// Seconds to finish in-flight requests on shutdown.
    pub shutdown_timeout_secs: u64,
    /// Serve `GET /metrics` (unauthenticated: keep it away from the public).
    pub metrics_enabled: bool,
    /// `development` (the default: keys created on first start) or `production` (the start
    /// checks of [`crate::production`] apply).
    pub environment: Environment,
    /// Browser origins (`https://app.example.com`) allowed to call the API cross-origin.
    /// Empty (the default): no CORS headers, so browsers refuse cross-origin calls.
    pub cors_allowed_origins: Vec<String>,
    /// Longest time a client may take to send a whole request (head and body), in seconds;
    /// a slower one gets 408 and its connection closed.
    pub request_timeout_secs: u64,
}

/// Where the server runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// A developer's machine or a test: missing keys are created.
    #[default]
    Development,
    /// Behind a TLS-terminating proxy, with provisioned keys.
    Production,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            trusted_proxies: vec![],
            public_url: "http://127.0.0.1:8080".to_owned(),
            workers: 0,
            shutdown_timeout_secs: 10,
            metrics_enabled: true,
            environment: Environment::Development,
            cors_allowed_origins: vec![],
            request_timeout_secs: 10,
        }
    }
}

/// `[database]`. Its `Debug` hides the URL's password.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://path` (embedded default).
    pub url: String,
    /// Pool size.
    pub max_connections: usize,
    /// Longest wait for a pooled connection, in milliseconds.
    pub acquire_timeout_ms: u64,
    /// Longest time one store operation may take, in milliseconds.
    pub query_timeout_ms: u64,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: "sqlite://data/portcullis.db".to_owned(),
            max_connections: 8,
            acquire_timeout_ms: 5_000,
            query_timeout_ms: 10_000,
        }
    }
}

impl std::fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &portcullis_domain::redact::url_password(&self.url))
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout_ms", &self.acquire_timeout_ms)
            .field("query_timeout_ms", &self.query_timeout_ms)
            .finish()
    }
}

/// `[mailer]`. Its `Debug` hides the SMTP URL's password.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailerSection {
    /// `smtp`, `file` or `log`.
    pub transport: String,
    /// Directory for the `file` transport.
    pub dir: PathBuf,
    /// SMTP server for the `smtp` transport.
    pub smtp_url: String,
    /// Extra PEM CA certificate(s) trusted for SMTP over TLS, besides the web PKI roots.
    pub tls_ca_file: Option<PathBuf>,
    /// Sender.
    pub from: String,
    /// SMTP timeout in seconds.
    pub timeout_secs: u64,
    /// How often the outbox worker looks for due mail, in milliseconds.
    pub poll_interval_ms: u64,
    /// A directory of `*.j2` files, each replacing the built-in mail template of its name.
    pub templates_dir: Option<PathBuf>,
}

impl Default for MailerSection {
    fn default() -> Self {
        Self {
            transport: "file".to_owned(),
            dir: PathBuf::from("data/mail"),
            smtp_url: "smtp://127.0.0.1:1025".to_owned(),
            tls_ca_file: None,
            from: "Portcullis <no-reply@localhost>".to_owned(),
            timeout_secs: 10,
            poll_interval_ms: 500,
            templates_dir: None,
        }
    }
}

impl std::fmt::Debug for MailerSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailerSection")
            .field("transport", &self.transport)
            .field("dir", &self.dir)
            .field("smtp_url", &portcullis_domain::redact::url_password(&self.smtp_url))
            .field("tls_ca_file", &self.tls_ca_file)
            .field("from", &self.from)
            .field("timeout_secs", &self.timeout_secs)
            .field("poll_interval_ms", &self.poll_interval_ms)
            .field("templates_dir", &self.templates_dir)
            .finish()
    }
}

/// `[geoip]`
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct GeoIpSettings {
    /// MaxMind City database; absent or unreadable: locations are null.
    pub city_db: Option<PathBuf>,
}

/// `[devices]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeviceSettings {
    /// Parse user agents into browser, OS and device type (uap-core rules).
    pub enabled: bool,
    /// Parsed user agents kept in memory.
    pub cache_capacity: usize,
}

impl Default for DeviceSettings {
    fn default() -> Self {
        Self { enabled: true, cache_capacity: 10_000 }
    }
}

/// `[mfa]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MfaSettings {
    /// Key that encrypts TOTP seeds at rest (XChaCha20-Poly1305); created by a development
    /// start when absent, required (provisioned, mode 0600) by a production start.
    pub secret_key_file: PathBuf,
    /// Roles whose holders may call nothing but the second-factor enrolment endpoints and
    /// `/users/me` until they have an active factor (403 `MFA_ENROLLMENT_REQUIRED`).
    pub require_for_roles: Vec<String>,
}

impl Default for MfaSettings {
    fn default() -> Self {
        Self { secret_key_file: PathBuf::from("data/mfa.key"), require_for_roles: Vec::new() }
    }
}

/// `[webauthn]`: who the passkeys are for.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebauthnSettings {
    /// The RP ID: the domain the passkeys are bound to (`example.com`); every origin must be
    /// on it or under it.
    pub rp_id: String,
    /// The name authenticators show beside the account.
    pub rp_name: String,
    /// Exact origins allowed in a ceremony's client data (`https://app.example.com`). A
    /// production start refuses `http` ones other than `localhost`.
    pub origins: Vec<String>,
    /// Serve the passkey demo page at `/passkeys/demo`: sign up, add a passkey and sign in
    /// with it from a browser. Off by default; the page loads nothing from elsewhere.
    pub demo_page: bool,
}

impl Default for WebauthnSettings {
    fn default() -> Self {
        Self {
            rp_id: "localhost".to_owned(),
            rp_name: "Portcullis".to_owned(),
            origins: vec!["http://localhost:8080".to_owned()],
            demo_page: false,
        }
    }
}

impl WebauthnSettings {
    /// The relying party the ceremonies check against.
    pub fn relying_party(&self) -> portcullis_webauthn::RelyingParty {
        portcullis_webauthn::RelyingParty {
            id: self.rp_id.clone(),
            name: self.rp_name.clone(),
            origins: self.origins.clone(),
        }
    }
}

/// `[webhooks]`: where deliveries may go and how they are sent.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookSettings {
    /// Accept `http` target URLs (for development, or receivers on a trusted network).
    pub allow_http: bool,
    /// Private, loopback or link-local ranges targets may resolve to anyway
    /// (`["10.1.0.0/16"]`); every other non-public address is refused.
    pub allowed_private_cidrs: Vec<IpNet>,
    /// How long one try may take, connecting, sending and reading the answer.
    pub timeout_secs: u64,
    /// Tries in flight at once on this instance; one hung receiver holds one of them for at
    /// most `timeout_secs`.
    pub max_in_flight: usize,
    /// How often the worker looks for due deliveries.
    pub poll_interval_ms: u64,
    /// Extra trusted root certificates (PEM) for receivers behind a private CA.
    pub tls_ca_file: Option<PathBuf>,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            allow_http: false,
            allowed_private_cidrs: Vec::new(),
            timeout_secs: 10,
            max_in_flight: 32,
            poll_interval_ms: 1000,
            tls_ca_file: None,
        }
    }
}

impl WebhookSettings {
    /// The target rules the domain and the transport enforce.
    pub fn target_policy(&self) -> portcullis_domain::model::TargetPolicy {
        portcullis_domain::model::TargetPolicy {
            allow_http: self.allow_http,
            allowed_private: self.allowed_private_cidrs.clone(),
        }
    }
}

/// `[tokens]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokenSettings {
    /// PASETO v4.local key; created on first start when absent.
    pub key_file: PathBuf,
    /// Key for the keyed hashes of codes and tokens; created on first start when absent.
    pub hash_key_file: PathBuf,
    /// Access-token lifetime in seconds.
    pub access_ttl_secs: u64,
    /// Session lifetime in seconds.
    pub session_ttl_secs: u64,
    /// Session lifetime with "remember me", in seconds.
    pub remember_me_ttl_secs: u64,
    /// Seconds a just-replaced refresh token still gets the pair it was exchanged for
    /// (parallel tabs); presented later, it signs the session out.
    pub refresh_grace_secs: u64,
    /// Seconds the "Not you?" link of a new-sign-in mail works.
    pub alert_ttl_secs: u64,
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            key_file: PathBuf::from("data/token.key"),
            hash_key_file: PathBuf::from("data/hash.key"),
            access_ttl_secs: 900,
            session_ttl_secs: 24 * 3600,
            remember_me_ttl_secs: 30 * 24 * 3600,
            refresh_grace_secs: 10,
            alert_ttl_secs: 7 * 24 * 3600,
        }
    }
}

/// `[accounts]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccountSettings {
    /// Days a soft-deleted account is kept, restorable by an administrator, before the
    /// purge job erases it (0: at the next housekeeping round, within ten minutes).
    pub deleted_retention_days: u64,
}

impl Default for AccountSettings {
    fn default() -> Self {
        Self { deleted_retention_days: 30 }
    }
}

/// `[limits]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitSettings {
    /// Failed logins per address within the window.
    pub login_failures_per_account: u32,
    /// Sliding window for failed logins, in seconds.
    pub login_failure_window_secs: u64,
    /// Unauthenticated `/auth/*` calls per client IP per minute.
    pub requests_per_ip_per_minute: u32,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self { login_failures_per_account: 5, login_failure_window_secs: 1800, requests_per_ip_per_minute: 60 }
    }
}

/// `[passwords]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordSettings {
    /// Minimum length of new passwords (8..=128).
    pub min_length: usize,
    /// Argon2id memory in KiB.
    pub argon2_memory_kib: u32,
    /// Argon2id iterations.
    pub argon2_iterations: u32,
    /// Argon2id lanes.
    pub argon2_parallelism: u32,
    /// The Argon2 implementation: `argon2-rust` (default, the faster) or `rustcrypto`. Both
    /// read and write the same PHC strings.
    pub argon2_engine: String,
    /// Hashing threads (0: one per core).
    pub hash_workers: usize,
    /// Hash requests allowed to wait; beyond it requests get 503.
    pub hash_queue: usize,
    /// Breached-password screening of new passwords: `off` (default), `range` (the Have I
    /// Been Pwned range API at `breach_api_url`) or `filter` (the file `breach_filter_file`).
    pub breach_check: String,
    /// Base URL of the range API (`{url}/range/{5 hex}`); a mirror may serve it.
    pub breach_api_url: String,
    /// A new password seen this often or more is refused.
    pub breach_min_count: u64,
    /// Whether a failed or timed-out lookup lets the password through (else 503).
    pub breach_fail_open: bool,
    /// How long one range lookup may take, connecting included, in milliseconds.
    pub breach_timeout_ms: u64,
    /// The filter of `portcullis breach-filter build`, read once at start.
    pub breach_filter_file: Option<PathBuf>,
}

/// `passwords.breach_check`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreachCheck {
    /// No screening.
    Off,
    /// The range API.
    Range,
    /// A local filter file.
    Filter,
}

impl PasswordSettings {
    /// The screening mode, or why `breach_check` names none.
    ///
    /// # Errors
    /// The message for an unknown mode.
    pub fn breach_mode(&self) -> Result<BreachCheck, String> {
        match self.breach_check.as_str() {
            "off" => Ok(BreachCheck::Off),
            "range" => Ok(BreachCheck::Range),
            "filter" => Ok(BreachCheck::Filter),
            other => Err(format!("passwords.breach_check must be off, range or filter, not {other:?}")),
        }
    }
}

impl Default for PasswordSettings {
    fn default() -> Self {
        Self {
            min_length: 15,
            argon2_memory_kib: 19_456,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            argon2_engine: portcullis_crypto::Argon2Engine::default().name().to_owned(),
            hash_workers: 0,
            hash_queue: 64,
            breach_check: "off".to_owned(),
            breach_api_url: "https://api.pwnedpasswords.com".to_owned(),
            breach_min_count: 1,
            breach_fail_open: true,
            breach_timeout_ms: 1_000,
            breach_filter_file: None,
        }
    }
}

/// `[log]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// `tracing` filter, e.g. `info,portcullis=debug`; `RUST_LOG` wins when set.
    pub filter: String,
    /// JSON lines instead of human-readable text.
    pub json: bool,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self { filter: "info".to_owned(), json: false }
    }
}

/// Why configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(#[from] Box<figment::Error>);

impl Settings {
    /// Loads the layers. `config/default.toml` is read relative to the working directory
    /// when it exists.
    ///
    /// # Errors
    /// A malformed file, an unknown key, or a value of the wrong type.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        let default_file = Path::new("config/default.toml");
        if default_file.exists() {
            figment = figment.merge(Toml::file(default_file));
        }
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        figment = figment.merge(Env::prefixed("PORTCULLIS__").split("__").lowercase(true));
        if let Ok(url) = std::env::var("DATABASE_URL") {
            figment = figment.merge(Serialized::default("database.url", url));
        }
        figment.extract().map_err(|e| ConfigError(Box::new(e)))
    }

    /// The domain policy these settings describe.
    pub fn policy(&self) -> portcullis_domain::Policy {
        let mut policy = portcullis_domain::Policy {
            password: portcullis_domain::model::PasswordPolicy::new(self.passwords.min_length),
            login_failures_per_account: self.limits.login_failures_per_account,
            login_failure_window: Duration::from_secs(self.limits.login_failure_window_secs),
            requests_per_ip_per_minute: self.limits.requests_per_ip_per_minute,
            access_ttl: Duration::from_secs(self.tokens.access_ttl_secs),
            session_ttl: Duration::from_secs(self.tokens.session_ttl_secs),
            remember_me_session_ttl: Duration::from_secs(self.tokens.remember_me_ttl_secs),
            refresh_grace: Duration::from_secs(self.tokens.refresh_grace_secs),
            alert_token_ttl: Duration::from_secs(self.tokens.alert_ttl_secs),
            ..portcullis_domain::Policy::default()
        };
        policy.public_url = self.server.public_url.trim_end_matches('/').to_owned();
        policy.webhook_targets = self.webhooks.target_policy();
        policy.webhook_timeout = Duration::from_secs(self.webhooks.timeout_secs.max(1));
        // Bounded at start (`production::check`), so the product cannot overflow.
        policy.deleted_retention = Duration::from_secs(self.accounts.deleted_retention_days.saturating_mul(86_400));
        // An unknown mode is refused at start (`production::check`).
        policy.breach = match self.passwords.breach_mode() {
            Ok(BreachCheck::Range | BreachCheck::Filter) => Some(portcullis_domain::BreachPolicy {
                min_count: self.passwords.breach_min_count,
                fail_open: self.passwords.breach_fail_open,
            }),
            Ok(BreachCheck::Off) | Err(_) => None,
        };
        // Unknown names are refused at start (`production::check`), never silently dropped.
        policy.mfa_required_roles =
            self.mfa.require_for_roles.iter().filter_map(|name| portcullis_domain::model::Role::parse(name)).collect();
        policy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_url_passwords() {
        let mut s = Settings::default();
        s.database.url = "postgres://app:db-s3cret@db.internal/portcullis".to_owned();
        s.mailer.smtp_url = "smtps://mailer:smtp-s3cret@smtp.example.com:465".to_owned();
        let shown = format!("{s:?} {s:#?}");
        assert!(!shown.contains("db-s3cret") && !shown.contains("smtp-s3cret"), "{shown}");
        assert!(shown.contains("postgres://***@db.internal/portcullis"), "{shown}");
        assert!(shown.contains("smtps://***@smtp.example.com:465"), "{shown}");
    }

    #[test]
    fn defaults_match_the_contract() {
        let s = Settings::default();
        assert_eq!(s.server.addr.to_string(), "127.0.0.1:8080");
        assert_eq!(s.database.url, "sqlite://data/portcullis.db");
        assert_eq!(s.tokens.access_ttl_secs, 900);
        assert_eq!(s.limits.login_failures_per_account, 5);
        assert_eq!(s.limits.login_failure_window_secs, 1800);
        assert_eq!(s.limits.requests_per_ip_per_minute, 60);
        let p = s.policy();
        assert_eq!(p.password.min_length(), 15);
        assert_eq!(p.refresh_grace, Duration::from_secs(10));
        assert_eq!(p.alert_token_ttl, Duration::from_secs(604_800));
    }

    #[test]
    #[expect(clippy::result_large_err, reason = "figment::Jail's closure type is figment's")]
    fn file_then_env_layers_apply_in_order() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "custom.toml",
                r#"
                [server]
                addr = "127.0.0.1:9000"
                trusted_proxies = ["127.0.0.1/32", "::1/128"]
                [limits]
                requests_per_ip_per_minute = 10
                "#,
            )?;
            jail.set_env("PORTCULLIS__LIMITS__REQUESTS_PER_IP_PER_MINUTE", "7");
            jail.set_env("DATABASE_URL", "sqlite://elsewhere.db");
            let s = Settings::load(Some(Path::new("custom.toml"))).expect("loads");
            assert_eq!(s.server.addr.port(), 9000);
            assert_eq!(s.server.trusted_proxies.len(), 2);
            assert_eq!(s.limits.requests_per_ip_per_minute, 7);
            assert_eq!(s.database.url, "sqlite://elsewhere.db");
            Ok(())
        });
    }

    #[test]
    #[expect(clippy::result_large_err, reason = "figment::Jail's closure type is figment's")]
    fn unknown_keys_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("bad.toml", "[server]\nadress = \"x\"\n")?;
            assert!(Settings::load(Some(Path::new("bad.toml"))).is_err());
            Ok(())
        });
    }
}
