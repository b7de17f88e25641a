//! The client IP: the TCP peer, or, only when the peer is a trusted proxy, the right-most
//! untrusted address of `X-Forwarded-For`. A forged header from anyone else is ignored.

use std::net::IpAddr;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::{Ready, ready};
use ipnet::IpNet;

use super::problem::ApiError;

/// Networks whose `X-Forwarded-For` is believed (app data).
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(pub Vec<IpNet>);

impl TrustedProxies {
    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client address for a request from `peer` carrying `forwarded_for`.
    pub fn client_ip(&self, peer: IpAddr, forwarded_for: Option<&str>) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let Some(header) = forwarded_for else { return peer };
        let hops: Option<Vec<IpAddr>> = header.split(',').map(|h| parse_hop(h.trim())).collect();
        let Some(hops) = hops else { return peer };
        // Walk from the proxy nearest to us outwards; the first address we do not trust is
        // the client. If every hop is trusted, the left-most is the best we know.
        hops.iter().rev().copied().find(|ip| !self.trusts(*ip)).or_else(|| hops.first().copied()).unwrap_or(peer)
    }
}

/// IPv4-mapped IPv6 addresses compare as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or `[2001:db8::1]:443`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Ok(sock) = hop.parse::<std::net::SocketAddr>() {
        return Some(canonical(sock.ip()));
    }
    None
}

/// Extractor for the resolved client IP.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl FromRequest for ClientIp {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let peer = req.peer_addr().map_or(IpAddr::from([127, 0, 0, 1]), |a| a.ip());
        let forwarded = req.headers().get("x-forwarded-for").and_then(|v| v.to_str().ok());
        let ip = match req.app_data::<web::Data<TrustedProxies>>() {
            Some(trusted) => trusted.client_ip(peer, forwarded),
            None => canonical(peer),
        };
        ready(Ok(ClientIp(ip)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies() -> TrustedProxies {
        TrustedProxies(vec!["127.0.0.1/32".parse().unwrap(), "::1/128".parse().unwrap(), "10.0.0.0/8".parse().unwrap()])
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn untrusted_peer_header_is_ignored() {
        assert_eq!(proxies().client_ip(ip("203.0.113.9"), Some("81.2.69.142")), ip("203.0.113.9"));
    }

    #[test]
    fn trusted_peer_uses_rightmost_untrusted_hop() {
        let p = proxies();
        assert_eq!(p.client_ip(ip("127.0.0.1"), Some("81.2.69.142")), ip("81.2.69.142"));
        // The client forged the first hop; the proxies appended the real one.
        assert_eq!(p.client_ip(ip("127.0.0.1"), Some("1.1.1.1, 81.2.69.142, 10.1.2.3")), ip("81.2.69.142"));
        assert_eq!(p.client_ip(ip("::1"), Some("[2001:db8::5]:443")), ip("2001:db8::5"));
        assert_eq!(p.client_ip(ip("::ffff:127.0.0.1"), Some("81.2.69.142")), ip("81.2.69.142"));
    }

    #[test]
    fn garbage_or_missing_header_falls_back_to_peer() {
        let p = proxies();
        assert_eq!(p.client_ip(ip("127.0.0.1"), Some("not-an-ip")), ip("127.0.0.1"));
        assert_eq!(p.client_ip(ip("127.0.0.1"), None), ip("127.0.0.1"));
        assert_eq!(p.client_ip(ip("127.0.0.1"), Some("10.0.0.1, 10.0.0.2")), ip("10.0.0.1"));
    }
}
