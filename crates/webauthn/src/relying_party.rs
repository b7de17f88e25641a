//! The relying party's configuration (`webauthn.rp_id`, `webauthn.rp_name`,
//! `webauthn.origins`) and its checks.

use std::time::Duration;

use url::Url;

/// How long the authenticator is given (`timeout` in the options): the five minutes a stored
/// challenge lives.
pub(crate) const CEREMONY_TIMEOUT: Duration = Duration::from_secs(300);

/// Who the passkeys are for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelyingParty {
    /// The RP ID: a registrable domain the origins are on (`example.com`), or `localhost`.
    pub id: String,
    /// The name authenticators show.
    pub name: String,
    /// Exact origins allowed in client data (`https://app.example.com`, `http://localhost:8080`).
    pub origins: Vec<String>,
}

/// Why a relying party configuration cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RelyingPartyError {
    /// `webauthn.rp_id` is empty, has a scheme, port or path, or is an IP address.
    #[error("webauthn.rp_id must be a bare domain name such as example.com, got {0:?}")]
    BadId(String),
    /// `webauthn.rp_name` is empty.
    #[error("webauthn.rp_name must not be empty")]
    NoName,
    /// `webauthn.origins` is empty.
    #[error("webauthn.origins must list at least one origin")]
    NoOrigin,
    /// An origin is not a bare `http(s)://host[:port]`.
    #[error("webauthn.origins: {0:?} is not an origin such as https://app.example.com")]
    BadOrigin(String),
    /// An origin's host is neither the RP ID nor under it: browsers would refuse it.
    #[error("webauthn.origins: {origin:?} is not on the RP ID {id:?}")]
    OriginOutsideId {
        /// The origin.
        origin: String,
        /// The RP ID.
        id: String,
    },
}

impl RelyingParty {
    /// Checks the configuration; the origins, parsed.
    ///
    /// # Errors
    /// [`RelyingPartyError`] naming the first problem.
    pub fn check(&self) -> Result<Vec<Url>, RelyingPartyError> {
        let id = self.id.as_str();
        let id_is_domain = !id.is_empty()
            && id == id.trim()
            && !id.contains(['/', ':', '@', '?', '#', ' '])
            && id.parse::<std::net::IpAddr>().is_err()
            && Url::parse(&format!("https://{id}")).ok().and_then(|u| u.domain().map(str::to_owned)).as_deref()
                == Some(id);
        if !id_is_domain {
            return Err(RelyingPartyError::BadId(self.id.clone()));
        }
        if self.name.trim().is_empty() {
            return Err(RelyingPartyError::NoName);
        }
        if self.origins.is_empty() {
            return Err(RelyingPartyError::NoOrigin);
        }
        self.origins.iter().map(|origin| self.check_origin(origin)).collect()
    }

    fn check_origin(&self, origin: &str) -> Result<Url, RelyingPartyError> {
        let bad = || RelyingPartyError::BadOrigin(origin.to_owned());
        let url = Url::parse(origin).map_err(|_| bad())?;
        let bare = matches!(url.scheme(), "https" | "http")
            && url.path() == "/"
            && url.query().is_none()
            && url.fragment().is_none()
            && url.username().is_empty()
            && url.password().is_none()
            && !origin.ends_with('/');
        let host = url.domain().ok_or_else(bad)?;
        if !bare {
            return Err(bad());
        }
        if host != self.id && !host.ends_with(&format!(".{}", self.id)) {
            return Err(RelyingPartyError::OriginOutsideId { origin: origin.to_owned(), id: self.id.clone() });
        }
        Ok(url)
    }

    /// Whether every origin is one a browser treats as secure for WebAuthn: `https`, or
    /// `http` on `localhost`. A production start refuses anything else.
    pub fn origins_are_secure(&self) -> bool {
        self.origins.iter().all(|origin| {
            Url::parse(origin).is_ok_and(|url| {
                url.scheme() == "https" || (url.scheme() == "http" && url.host_str() == Some("localhost"))
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rp(id: &str, origins: &[&str]) -> RelyingParty {
        RelyingParty { id: id.into(), name: "Portcullis".into(), origins: origins.iter().map(|&o| o.into()).collect() }
    }

    #[test]
    fn accepts_origins_on_the_id_or_under_it() {
        let urls = rp("example.com", &["https://example.com", "https://app.example.com:8443"]).check().expect("ok");
        assert_eq!(urls.len(), 2);
        assert!(rp("localhost", &["http://localhost:8080"]).check().is_ok());
    }

    #[test]
    fn refuses_what_browsers_would_refuse() {
        for id in ["", " example.com", "https://example.com", "example.com:443", "127.0.0.1", "a/b"] {
            assert_eq!(rp(id, &["https://example.com"]).check(), Err(RelyingPartyError::BadId(id.into())), "{id}");
        }
        assert_eq!(rp("example.com", &[]).check(), Err(RelyingPartyError::NoOrigin));
        for origin in [
            "example.com",
            "ftp://example.com",
            "https://example.com/login",
            "https://example.com/",
            "https://127.0.0.1",
        ] {
            assert_eq!(
                rp("example.com", &[origin]).check(),
                Err(RelyingPartyError::BadOrigin(origin.into())),
                "{origin}"
            );
        }
        assert!(matches!(
            rp("example.com", &["https://example.org"]).check(),
            Err(RelyingPartyError::OriginOutsideId { .. })
        ));
        assert!(matches!(
            rp("example.com", &["https://badexample.com"]).check(),
            Err(RelyingPartyError::OriginOutsideId { .. })
        ));
        let nameless = RelyingParty { name: " ".into(), ..rp("example.com", &["https://example.com"]) };
        assert_eq!(nameless.check(), Err(RelyingPartyError::NoName));
    }

    #[test]
    fn only_https_or_localhost_is_secure() {
        assert!(rp("example.com", &["https://example.com"]).origins_are_secure());
        assert!(rp("localhost", &["http://localhost:8080"]).origins_are_secure());
        assert!(!rp("example.com", &["https://example.com", "http://app.example.com"]).origins_are_secure());
    }
}
