//! Which addresses are worth looking up.
//!
//! Private, loopback, link-local, shared (CGNAT), documentation and other special-purpose
//! addresses have no geographic meaning: a database entry for them would be wrong, and the
//! lookup would cost time for nothing. They are filtered here, before the database is touched.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The address to look up, or `None` when `ip` is not a public unicast address.
///
/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`, as dual-stack sockets report IPv4 peers)
/// are turned back into IPv4 first, so `::ffff:127.0.0.1` counts as loopback and
/// `::ffff:81.2.69.142` is looked up as `81.2.69.142`.
pub(crate) fn public_address(ip: IpAddr) -> Option<IpAddr> {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    };
    let public = match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    };
    public.then_some(ip)
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let special = ip.is_unspecified()
        || a == 0 // 0.0.0.0/8 "this network"
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || (a == 100 && (b & 0xc0) == 64) // 100.64.0.0/10 shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // 192.0.0.0/24 IETF protocol assignments
        || ip.is_documentation()
        || (a == 198 && (b & 0xfe) == 18) // 198.18.0.0/15 benchmarking
        || ip.is_multicast()
        || a >= 240; // 240.0.0.0/4 reserved, including the broadcast address
    !special
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    let special = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (segments[0] & 0xfe00) == 0xfc00 // fc00::/7 unique local
        || (segments[0] & 0xffc0) == 0xfe80 // fe80::/10 link-local
        || (segments[0] & 0xffc0) == 0xfec0 // fec0::/10 deprecated site-local
        || (segments[0] == 0x2001 && segments[1] == 0x0db8) // 2001:db8::/32 documentation
        || (segments[0] == 0x3fff && segments[1] < 0x1000) // 3fff::/20 documentation
        || (segments[0] == 0x0100 && segments[1..4] == [0, 0, 0]); // 100::/64 discard
    !special
}
