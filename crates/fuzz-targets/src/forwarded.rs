//! The `X-Forwarded-For` parser with the trusted-proxy rule.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;
use portcullis_server::http::client_ip::TrustedProxies;

/// The input is three lines: the TCP peer, the trusted networks (comma-separated), and the
/// header value (the rest). Properties: no panic; an untrusted peer is the client whatever
/// the header says; otherwise the client is the peer or one of the header's hops.
pub fn forwarded_for(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.splitn(3, '\n');
    let peer: IpAddr = lines.next().and_then(|l| l.trim().parse().ok()).unwrap_or(IpAddr::from([10, 0, 0, 1]));
    let nets: Vec<IpNet> = lines.next().unwrap_or_default().split(',').filter_map(|n| n.trim().parse().ok()).collect();
    let header = lines.next();
    let trusted = TrustedProxies(nets.clone());
    let client = trusted.client_ip(peer, header);
    let peer = canonical(peer);
    if !nets.iter().any(|net| net.contains(&peer)) {
        assert_eq!(client, peer, "an untrusted peer's header was believed");
        return;
    }
    let hops: Vec<IpAddr> = header.unwrap_or_default().split(',').filter_map(|h| hop(h.trim())).collect();
    assert!(client == peer || hops.contains(&client), "{client} is neither the peer nor a hop");
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn hop(text: &str) -> Option<IpAddr> {
    text.parse::<IpAddr>().ok().or_else(|| text.parse::<SocketAddr>().ok().map(|s| s.ip())).map(canonical)
}
