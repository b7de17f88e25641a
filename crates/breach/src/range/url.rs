//! The range API's base URL: checked once, when the adapter is made, so a lookup cannot fail
//! on configuration.

use std::net::IpAddr;

use hyper::Uri;
use tokio_rustls::rustls::pki_types::{DnsName, ServerName};

/// Why a range API base URL was refused ([`RangeApi::new`](crate::RangeApi::new)).
///
/// The messages never repeat the URL: it comes from the operator's configuration, which may
/// hold credentials by mistake.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RangeConfigError {
    /// Not an absolute URL (`https://host[:port][/path]`).
    #[error("the breach API URL is not an absolute http(s) URL")]
    NotAbsolute,
    /// A scheme other than `http` or `https`.
    #[error("the breach API URL must start with https:// (or http:// for a local mirror)")]
    Scheme,
    /// `user:password@` in the URL: the range API takes no credentials, and a mirror that
    /// wants them is not supported.
    #[error("the breach API URL may not carry credentials (user@host)")]
    Credentials,
    /// A query string or fragment: the lookup appends `/range/{prefix}` to the path, so
    /// either would end up in the wrong place.
    #[error("the breach API URL may not have a query or a fragment")]
    Query,
    /// A host that is not a DNS name or an address (for TLS, the name the certificate must
    /// carry).
    #[error("the breach API URL's host is not a valid server name")]
    Host,
}

/// A checked base URL: scheme, host, port and the path prefix the lookup appends to.
#[derive(Clone)]
pub(crate) struct BaseUrl {
    /// As configured, for `Debug` and [`RangeApi::base_url`](crate::RangeApi::base_url).
    pub(crate) original: String,
    /// Without brackets for IPv6, ready for `TcpStream::connect`.
    pub(crate) host: String,
    pub(crate) port: u16,
    /// The `host` header: `host[:port]`, the port only when not the scheme's default.
    pub(crate) host_header: String,
    /// The path without its trailing `/` (empty for the root).
    pub(crate) path: String,
    /// `Some` for `https`: SNI and the name the certificate must carry.
    pub(crate) server_name: Option<ServerName<'static>>,
}

impl BaseUrl {
    pub(crate) fn parse(raw: &str) -> Result<Self, RangeConfigError> {
        let raw = raw.trim();
        if raw.contains('#') {
            return Err(RangeConfigError::Query);
        }
        let uri: Uri = raw.parse().map_err(|_| RangeConfigError::NotAbsolute)?;
        let https = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("https") => true,
            Some(s) if s.eq_ignore_ascii_case("http") => false,
            Some(_) => return Err(RangeConfigError::Scheme),
            None => return Err(RangeConfigError::NotAbsolute),
        };
        let authority = uri.authority().ok_or(RangeConfigError::NotAbsolute)?;
        if authority.as_str().contains('@') {
            return Err(RangeConfigError::Credentials);
        }
        if uri.query().is_some() {
            return Err(RangeConfigError::Query);
        }
        let bracketed = authority.host();
        let host = bracketed.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        if host.is_empty() {
            return Err(RangeConfigError::Host);
        }
        let ip = host.parse::<IpAddr>().ok();
        let server_name = if https {
            Some(match ip {
                Some(ip) => ServerName::IpAddress(ip.into()),
                None => ServerName::DnsName(DnsName::try_from(host.clone()).map_err(|_| RangeConfigError::Host)?),
            })
        } else {
            None
        };
        let default_port = if https { 443 } else { 80 };
        let port = authority.port_u16().unwrap_or(default_port);
        let host_name = match ip {
            Some(IpAddr::V6(v6)) => format!("[{v6}]"),
            _ => host.clone(),
        };
        let host_header = if port == default_port { host_name } else { format!("{host_name}:{port}") };
        let path = uri.path().trim_end_matches('/').to_owned();
        Ok(Self { original: raw.to_owned(), host, port, host_header, path, server_name })
    }

    /// The request target for one prefix: `{path}/range/{prefix}`.
    pub(crate) fn range_path(&self, prefix: &str) -> String {
        format!("{}/range/{prefix}", self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_path_prefix_and_fills_in_the_port() {
        let url = BaseUrl::parse("https://api.pwnedpasswords.com").unwrap();
        assert!(url.server_name.is_some());
        assert_eq!(
            (url.host.as_str(), url.port, url.host_header.as_str()),
            ("api.pwnedpasswords.com", 443, "api.pwnedpasswords.com")
        );
        assert_eq!(url.range_path("21BD1"), "/range/21BD1");

        let url = BaseUrl::parse("https://Mirror.example:8443/hibp/").unwrap();
        assert_eq!(
            (url.host.as_str(), url.port, url.host_header.as_str()),
            ("mirror.example", 8443, "mirror.example:8443")
        );
        assert_eq!(url.range_path("ABCDE"), "/hibp/range/ABCDE");
        assert!(matches!(url.server_name, Some(ServerName::DnsName(_))));

        let url = BaseUrl::parse("http://[::1]:8080/a/b").unwrap();
        assert!(url.server_name.is_none());
        assert_eq!((url.host.as_str(), url.port, url.host_header.as_str()), ("::1", 8080, "[::1]:8080"));
        assert_eq!(url.range_path("00000"), "/a/b/range/00000");

        let url = BaseUrl::parse("https://127.0.0.1/").unwrap();
        assert!(matches!(url.server_name, Some(ServerName::IpAddress(_))));
        assert_eq!(url.range_path("00000"), "/range/00000");
    }

    #[test]
    fn refuses_what_it_cannot_use() {
        let err = |raw: &str| BaseUrl::parse(raw).err();
        assert_eq!(err("api.pwnedpasswords.com"), Some(RangeConfigError::NotAbsolute));
        assert_eq!(err("/range"), Some(RangeConfigError::NotAbsolute));
        assert_eq!(err(""), Some(RangeConfigError::NotAbsolute));
        assert_eq!(err("ftp://mirror/"), Some(RangeConfigError::Scheme));
        assert_eq!(err("https://user:secret@mirror/"), Some(RangeConfigError::Credentials));
        assert_eq!(err("https://mirror/?key=1"), Some(RangeConfigError::Query));
        assert_eq!(err("https://mirror/#x"), Some(RangeConfigError::Query));
        let message = RangeConfigError::Credentials.to_string();
        assert!(!message.contains("secret"));
    }
}
