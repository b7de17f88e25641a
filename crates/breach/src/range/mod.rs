//! [`RangeApi`], the [`BreachedPasswords`] adapter for Have I Been Pwned's Pwned Passwords
//! range API (or a mirror of it): k-anonymity, so only the first 5 hex digits of the
//! password's SHA-1 leave the process.

mod answer;
mod http;
mod url;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub(crate) use answer::parse_count;
use portcullis_domain::model::Password;
use portcullis_domain::ports::{BreachLookupError, BreachedPasswords, Exposure};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use url::BaseUrl;
pub use url::RangeConfigError;

use crate::hash::{hex_upper, sha1_of};
use portcullis_tls_client::{self as tls, RootsError};

/// Have I Been Pwned's own range API.
pub const DEFAULT_BASE_URL: &str = "https://api.pwnedpasswords.com";

/// The contract's lookup timeout: a registration waits for the answer, so a slow source
/// must not hold it (what happens then is `passwords.breach_fail_open`'s call).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);

/// Largest answer body read. A padded HIBP answer is about 1,000 lines of 40 bytes (some
/// 40 KiB); anything past 4 MiB is not a range answer, and reading on would let a broken
/// mirror fill memory.
pub const MAX_BODY: usize = 4 * 1024 * 1024;

/// The `user-agent` of every lookup (HIBP's API asks every client to identify itself, and
/// refuses requests without one): `Portcullis/<this crate's version>`.
pub const USER_AGENT: &str = concat!("Portcullis/", env!("CARGO_PKG_VERSION"));

/// Looks passwords up in the Pwned Passwords range API by k-anonymity.
///
/// For each lookup the password's SHA-1 is computed here; only its first 5 hex digits are
/// sent, as `GET {base}/range/{PREFIX}` with `Add-Padding: true`, and the answer's
/// `SUFFIX:COUNT` lines are searched for the other 35 locally. Padding lines (count 0) never
/// count. Found with a count n > 0: [`Exposure::Seen`] `{ times: n }`; otherwise
/// [`Exposure::Unlisted`].
///
/// The whole lookup (resolution, connect, TLS, request, answer and body) is bounded by one
/// timeout, past which it is [`BreachLookupError::Timeout`]; a connection or TLS failure or
/// a non-2xx status is `Unavailable`, an answer that is not a range answer (or longer than
/// [`MAX_BODY`]) `Malformed`. Each lookup opens a connection of its own (lookups are one per
/// password change or registration, so a pool would buy little) and follows no redirect.
///
/// Neither the password nor its hash (beyond the 5 digits on the wire) appears in an error,
/// a log line or `Debug`. Server certificates are checked against the `webpki-roots` trust
/// anchors plus any added with [`with_extra_roots`](Self::with_extra_roots).
#[derive(Clone)]
pub struct RangeApi {
    base: BaseUrl,
    timeout: Duration,
    roots: RootCertStore,
    tls: Arc<ClientConfig>,
}

impl RangeApi {
    /// A client of the range API at `base_url` (`https://`, or `http://` for a local
    /// mirror; a path is kept as a prefix: `https://mirror/hibp/` asks
    /// `https://mirror/hibp/range/ABCDE`), each lookup bounded by `timeout`.
    ///
    /// # Errors
    /// [`RangeConfigError`] for a URL that is not absolute http(s), carries credentials, a
    /// query or a fragment, or whose host is not a valid server name.
    pub fn new(base_url: &str, timeout: Duration) -> Result<Self, RangeConfigError> {
        let base = BaseUrl::parse(base_url)?;
        let roots = tls::default_roots();
        let tls = tls::client_config(roots.clone());
        Ok(Self { base, timeout, roots, tls })
    }

    /// Also trusts the root certificates in `certificates`: one DER certificate, or PEM with
    /// one or more `CERTIFICATE` blocks. For a mirror behind a private CA, or a test's
    /// self-signed certificate. Call it again to add more.
    ///
    /// # Errors
    /// [`RootsError`] when the input holds no certificate or one that cannot be a trust
    /// anchor; nothing is added then.
    pub fn with_extra_roots(mut self, certificates: &[u8]) -> Result<Self, RootsError> {
        tls::add_roots(&mut self.roots, certificates)?;
        self.tls = tls::client_config(self.roots.clone());
        Ok(self)
    }

    /// The base URL, as configured.
    pub fn base_url(&self) -> &str {
        &self.base.original
    }

    /// The bound on each lookup.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The lookup of [`exposure`](BreachedPasswords::exposure) for a SHA-1 computed by the
    /// caller (e.g. with [`sha1_of`]); only its first 5 hex digits are sent.
    ///
    /// # Errors
    /// As [`exposure`](BreachedPasswords::exposure).
    pub async fn exposure_of_sha1(&self, sha1: &[u8; 20]) -> Result<Exposure, BreachLookupError> {
        let hex = hex_upper(sha1);
        let (prefix, suffix) = hex.split_at(5);
        let path = self.base.range_path(prefix);
        let body = match tokio::time::timeout(self.timeout, http::get(&self.base, &self.tls, &path)).await {
            Ok(Ok(body)) => body,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "breach range lookup failed");
                return Err(e);
            }
            Err(_) => {
                tracing::debug!(timeout_ms = self.timeout.as_millis(), "breach range lookup timed out");
                return Err(BreachLookupError::Timeout);
            }
        };
        answer::exposure_in(&body, suffix.as_bytes()).inspect_err(|e| {
            tracing::debug!(error = %e, "breach range answer unreadable");
        })
    }
}

impl fmt::Debug for RangeApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RangeApi")
            .field("base_url", &self.base.original)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl BreachedPasswords for RangeApi {
    async fn exposure(&self, password: &Password) -> Result<Exposure, BreachLookupError> {
        self.exposure_of_sha1(&sha1_of(password)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_the_url_and_nothing_else() {
        let api = RangeApi::new("https://mirror.example/hibp/", Duration::from_millis(1500)).unwrap();
        assert_eq!(format!("{api:?}"), "RangeApi { base_url: \"https://mirror.example/hibp/\", timeout: 1.5s, .. }");
        assert_eq!(api.base_url(), "https://mirror.example/hibp/");
        assert_eq!(api.timeout(), Duration::from_millis(1500));
        assert!(USER_AGENT.starts_with("Portcullis/0."));
        assert!(RangeApi::new(DEFAULT_BASE_URL, DEFAULT_TIMEOUT).is_ok());
    }
}
