//! The checks a start makes of its configuration before it opens anything. Every start checks
//! the database URL and the CORS origins; a production start (`server.environment = "production"`) also refuses
//! what is fine on a developer's machine and unsafe in front of the public: keys the server
//! created by itself, key files others can read, no TLS-terminating proxy, links in mail over
//! plain HTTP, and a mailer that delivers nothing.

use std::path::Path;

use portcullis_crypto::KeyFileKind;

use crate::config::{Environment, Settings};

/// Why the configuration was refused: one line per problem.
#[derive(Debug, thiserror::Error)]
#[error("refusing to start:\n  - {}", .0.join("\n  - "))]
pub struct Refused(pub Vec<String>);

/// Longest webhook try accepted: a try holds a worker slot and its lease lasts twice this.
pub const MAX_WEBHOOK_TIMEOUT_SECS: u64 = 300;

/// Longest retention of deleted accounts accepted (ten years): a longer one is a typo, and
/// keeping personal data "for ever" is what the retention policy is there to end.
pub const MAX_RETENTION_DAYS: u64 = 3_650;

/// What is wrong with the breached-password settings (the filter file itself is checked
/// when it is loaded).
fn breach_problems(p: &crate::config::PasswordSettings) -> Vec<String> {
    let mut problems = Vec::new();
    match p.breach_mode() {
        Err(why) => problems.push(why),
        Ok(crate::config::BreachCheck::Filter) if p.breach_filter_file.is_none() => {
            problems.push("passwords.breach_check = \"filter\" needs passwords.breach_filter_file".to_owned());
        }
        Ok(_) => {}
    }
    if p.breach_min_count == 0 {
        problems.push("passwords.breach_min_count must be at least 1".to_owned());
    }
    if !(1..=60_000).contains(&p.breach_timeout_ms) {
        problems.push(format!("passwords.breach_timeout_ms must be 1 to 60000, not {}", p.breach_timeout_ms));
    }
    problems
}

/// Checks `settings`; every problem found, not only the first.
///
/// # Errors
/// [`Refused`], listing the problems.
pub fn check(settings: &Settings) -> Result<(), Refused> {
    let production = settings.server.environment == Environment::Production;
    let mut problems: Vec<String> =
        settings.server.cors_allowed_origins.iter().filter_map(|o| origin_problem(o, production)).collect();
    // A mistyped scheme must stop every start before a store is opened (it once became a
    // SQLite file named after the URL); the reason names the scheme, never the password.
    if let Err(why) = portcullis_store_diesel::check_url(&settings.database.url) {
        problems.insert(0, format!("database.url: {why}"));
    }
    for name in &settings.mfa.require_for_roles {
        if portcullis_domain::model::Role::parse(name).is_none() {
            problems.push(format!("mfa.require_for_roles: {name:?} is not a role (known: admin, user)"));
        }
    }
    if !(1..=MAX_WEBHOOK_TIMEOUT_SECS).contains(&settings.webhooks.timeout_secs) {
        problems.push(format!(
            "webhooks.timeout_secs must be 1 to {MAX_WEBHOOK_TIMEOUT_SECS}, not {}",
            settings.webhooks.timeout_secs
        ));
    }
    problems.extend(breach_problems(&settings.passwords));
    if settings.accounts.deleted_retention_days > MAX_RETENTION_DAYS {
        problems.push(format!(
            "accounts.deleted_retention_days must be at most {MAX_RETENTION_DAYS}, not {}",
            settings.accounts.deleted_retention_days
        ));
    }
    if settings.webhooks.max_in_flight == 0 {
        problems.push("webhooks.max_in_flight must be at least 1".to_owned());
    }
    let rp = settings.webauthn.relying_party();
    if let Err(why) = rp.check() {
        problems.push(why.to_string());
    } else if production && !rp.origins_are_secure() {
        problems.push(format!(
            "webauthn.origins {:?}: browsers run passkey ceremonies only on https origins (or http://localhost)",
            settings.webauthn.origins
        ));
    }
    if production {
        problems.extend(key_problem("tokens.key_file", &settings.tokens.key_file));
        problems.extend(key_problem("tokens.hash_key_file", &settings.tokens.hash_key_file));
        problems.extend(key_problem("mfa.secret_key_file", &settings.mfa.secret_key_file));
        if settings.server.trusted_proxies.is_empty() {
            problems.push(
                "server.trusted_proxies is empty: list the addresses of the TLS-terminating proxy in front of \
                 Portcullis (it serves plain HTTP, and takes client addresses for lockouts, limits and the audit \
                 log from the proxy's X-Forwarded-For)"
                    .to_owned(),
            );
        }
        if !settings.server.public_url.starts_with("https://") {
            problems.push(format!(
                "server.public_url {:?} is not https://: links in mail would travel and open in clear",
                settings.server.public_url
            ));
        }
        if settings.mailer.transport == "log" {
            problems.push(
                "mailer.transport = \"log\" delivers no mail: nobody could verify an address or reset a password"
                    .to_owned(),
            );
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(Refused(problems)) }
}

/// What is wrong with the CORS origin `origin`, if anything: it must be exactly
/// `scheme://host[:port]` (what browsers send in `Origin`), never `*`, and https in production.
fn origin_problem(origin: &str, production: bool) -> Option<String> {
    let problem = |why: &str| Some(format!("server.cors_allowed_origins: {origin:?} {why}"));
    if origin.contains('*') {
        return problem("is a wildcard; list each origin");
    }
    let Some((scheme, rest)) = origin.split_once("://") else {
        return problem("is not an origin like https://app.example.com");
    };
    if !matches!(scheme, "https" | "http")
        || rest.is_empty()
        || rest.contains(['/', '?', '#', '@', ' '])
        || rest.chars().any(|c| c.is_ascii_uppercase() || c.is_control())
    {
        return problem("is not an origin like https://app.example.com (lower-case, no path)");
    }
    if production && scheme != "https" {
        return problem("is not https");
    }
    None
}

/// What is wrong with the key file `path` (the setting `name`) for a production start.
fn key_problem(name: &str, path: &Path) -> Option<String> {
    let shown = path.display();
    match portcullis_crypto::key_file_kind(path) {
        Err(e) => Some(format!("{name}: {e}")),
        Ok(KeyFileKind::Missing) => Some(format!(
            "{name}: {shown} does not exist, and a production start creates no keys: write 32 random bytes \
             there (`openssl rand -hex 32 > {shown}`, or `portcullis keys rotate` for the token key), mode 0600"
        )),
        Ok(KeyFileKind::Development) => Some(format!(
            "{name}: {shown} is a development key, created by a server on its first start; provision a new one"
        )),
        Ok(KeyFileKind::Provisioned) => shared_mode(path)
            .map(|mode| format!("{name}: {shown} has mode {mode:o}: group and others must not read a key (chmod 600)")),
    }
}

/// The file's permission bits when group or others have any of them.
#[cfg(unix)]
fn shared_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then_some(mode)
}

#[cfg(not(unix))]
fn shared_mode(_: &Path) -> Option<u32> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn production(dir: &Path) -> Settings {
        let mut s = Settings::default();
        s.server.environment = Environment::Production;
        s.server.trusted_proxies = vec!["10.0.0.0/8".parse().unwrap()];
        s.server.public_url = "https://auth.example.com".to_owned();
        s.mailer.transport = "smtp".to_owned();
        s.tokens.key_file = dir.join("token.key");
        s.tokens.hash_key_file = dir.join("hash.key");
        s.mfa.secret_key_file = dir.join("mfa.key");
        for path in [&s.tokens.key_file, &s.tokens.hash_key_file, &s.mfa.secret_key_file] {
            std::fs::write(path, format!("{}\n", "5a".repeat(32))).unwrap();
            set_mode(path, 0o600);
        }
        s
    }

    fn set_mode(path: &Path, mode: u32) {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        let _ = (path, mode);
    }

    fn problems(s: &Settings) -> Vec<String> {
        check(s).err().map(|r| r.0).unwrap_or_default()
    }

    #[test]
    fn development_defaults_start() {
        assert!(check(&Settings::default()).is_ok());
    }

    #[test]
    fn passkey_origins_must_fit_the_rp_id_and_be_secure_in_production() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = production(dir.path());
        s.webauthn.rp_id = "example.com".to_owned();
        s.webauthn.origins = vec!["https://auth.example.com".to_owned(), "https://example.com:8443".to_owned()];
        assert!(problems(&s).is_empty(), "{:?}", problems(&s));
        s.webauthn.origins = vec!["http://auth.example.com".to_owned()];
        let found = problems(&s);
        assert!(found.len() == 1 && found[0].contains("only on https origins"), "{found:?}");
        // Not on the RP ID: refused by every start, development too.
        let mut dev = Settings::default();
        dev.webauthn.origins = vec!["https://example.org".to_owned()];
        let found = problems(&dev);
        assert!(found.len() == 1 && found[0].contains("not on the RP ID"), "{found:?}");
    }

    #[test]
    fn webhook_tries_are_bounded() {
        let mut s = Settings::default();
        for (secs, ok) in [(0, false), (1, true), (300, true), (301, false), (u64::MAX, false)] {
            s.webhooks.timeout_secs = secs;
            assert_eq!(check(&s).is_ok(), ok, "timeout_secs = {secs}");
        }
        s.webhooks.timeout_secs = 10;
        s.webhooks.max_in_flight = 0;
        assert!(problems(&s).iter().any(|p| p.contains("webhooks.max_in_flight")));
    }

    #[test]
    fn breach_settings_are_checked_before_start() {
        let mut s = Settings::default();
        for (mode, ok) in [("off", true), ("range", true), ("filter", false), ("hibp", false)] {
            s.passwords.breach_check = mode.to_owned();
            assert_eq!(check(&s).is_ok(), ok, "breach_check = {mode}");
        }
        s.passwords.breach_filter_file = Some("breach.filter".into());
        s.passwords.breach_check = "filter".to_owned();
        assert!(check(&s).is_ok(), "the file itself is read at wiring");
        s.passwords.breach_min_count = 0;
        assert!(check(&s).is_err());
        s.passwords.breach_min_count = 1;
        for (ms, ok) in [(0, false), (1, true), (60_000, true), (60_001, false)] {
            s.passwords.breach_timeout_ms = ms;
            assert_eq!(check(&s).is_ok(), ok, "breach_timeout_ms = {ms}");
        }
    }

    #[test]
    fn required_second_factor_roles_must_be_roles() {
        let mut s = Settings::default();
        s.mfa.require_for_roles = vec!["admin".to_owned()];
        assert!(check(&s).is_ok());
        assert_eq!(s.policy().mfa_required_roles, vec![portcullis_domain::model::Role::Admin]);
        s.mfa.require_for_roles = vec!["admin".to_owned(), "admins".to_owned()];
        let found = problems(&s);
        assert!(found.len() == 1 && found[0].contains("\"admins\" is not a role"), "{found:?}");
    }

    #[test]
    fn a_complete_production_configuration_starts() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(problems(&production(dir.path())), Vec::<String>::new());
    }

    #[test]
    fn production_refuses_missing_and_development_keys() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = production(dir.path());
        std::fs::remove_file(&s.tokens.key_file).unwrap();
        let found = problems(&s);
        assert!(found.len() == 1 && found[0].starts_with("tokens.key_file:") && found[0].contains("does not exist"));
        // A key a development start created is marked as such, and refused.
        s.tokens.hash_key_file = dir.path().join("dev/hash.key");
        portcullis_crypto::HmacSecretHasher::from_key_file(&s.tokens.hash_key_file).unwrap();
        let found = problems(&s);
        assert!(found.iter().any(|p| p.starts_with("tokens.hash_key_file:") && p.contains("development key")));
        assert!(!found.iter().any(|p| p.contains(&"5a".repeat(4))), "no key bytes in the refusal");
    }

    #[cfg(unix)]
    #[test]
    fn production_refuses_a_key_others_can_read() {
        let dir = tempfile::tempdir().unwrap();
        let s = production(dir.path());
        set_mode(&s.tokens.key_file, 0o644);
        let found = problems(&s);
        assert!(found.len() == 1 && found[0].contains("mode 644"), "{found:?}");
    }

    #[test]
    fn production_needs_the_proxy_https_and_a_real_mailer() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = production(dir.path());
        s.server.trusted_proxies.clear();
        s.server.public_url = "http://auth.example.com".to_owned();
        s.mailer.transport = "log".to_owned();
        let found = problems(&s);
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found[0].starts_with("server.trusted_proxies"));
        assert!(found[1].starts_with("server.public_url"));
        assert!(found[2].starts_with("mailer.transport"));
        let message = check(&s).unwrap_err().to_string();
        assert!(message.starts_with("refusing to start:\n  - server.trusted_proxies"), "{message}");
    }

    #[test]
    fn cors_origins_must_be_explicit_origins() {
        let mut s = Settings::default();
        s.server.cors_allowed_origins = vec!["https://app.example.com".to_owned(), "http://localhost:3000".to_owned()];
        assert!(check(&s).is_ok());
        for bad in [
            "*",
            "https://*.example.com",
            "app.example.com",
            "https://app.example.com/",
            "ftp://x",
            "https://App.example.com",
        ] {
            s.server.cors_allowed_origins = vec![bad.to_owned()];
            assert_eq!(problems(&s).len(), 1, "{bad} accepted");
        }
        let dir = tempfile::tempdir().unwrap();
        let mut s = production(dir.path());
        s.server.cors_allowed_origins = vec!["http://app.example.com".to_owned()];
        assert!(problems(&s)[0].ends_with("is not https"));
    }
}
