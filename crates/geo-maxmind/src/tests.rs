//! Lookups against the fixture database written by [`crate::fixture`].

use std::io::Write;
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use portcullis_domain::model::Location;
use portcullis_domain::ports::GeoLookup;

use crate::fixture::{self, DECOYS, KNOWN, OUTSIDE, PLACES};
use crate::{GeoError, MaxmindGeoLookup, OptionalGeo};

fn geo() -> MaxmindGeoLookup {
    MaxmindGeoLookup::from_bytes(fixture::city_db_bytes()).expect("fixture is a valid database")
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address parses")
}

/// The first address of a network written as `a.b.c.0/24` or `x:y::/32`, plus one.
fn inside(network: &str) -> IpAddr {
    let base = network.split('/').next().expect("network has an address");
    match ip(base) {
        IpAddr::V4(v4) => IpAddr::V4((u32::from(v4) + 1).into()),
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) + 1).into()),
    }
}

#[test]
fn every_fixture_network_gives_its_full_place() {
    let geo = geo();
    for (network, place) in PLACES {
        let expected = Location {
            country_code: Some(place.country_code.to_owned()),
            country: Some(place.country.to_owned()),
            region: place.region.map(str::to_owned),
            city: place.city.map(str::to_owned),
            latitude: Some(place.latitude),
            longitude: Some(place.longitude),
            timezone: Some(place.timezone.to_owned()),
        };
        assert_eq!(geo.locate(inside(network)), Some(expected), "{network}");
    }
}

#[test]
fn known_addresses_match_the_published_table() {
    let geo = geo();
    for (addr, country_code, city) in KNOWN {
        let location = geo.locate(ip(addr)).unwrap_or_else(|| panic!("{addr} is known"));
        assert_eq!(location.country_code.as_deref(), Some(*country_code), "{addr}");
        assert_eq!(location.city.as_deref(), *city, "{addr}");
    }
}

#[test]
fn london_has_every_field_in_english() {
    let london = geo().locate(ip("81.2.69.142")).expect("London is known");
    assert_eq!(
        london,
        Location {
            country_code: Some("GB".into()),
            country: Some("United Kingdom".into()),
            region: Some("England".into()),
            city: Some("London".into()),
            latitude: Some(51.5142),
            longitude: Some(-0.0931),
            timezone: Some("Europe/London".into()),
        }
    );
}

#[test]
fn japan_is_known_to_the_country_only() {
    let japan = geo().locate(ip("2001:218::1")).expect("Japan is known");
    assert_eq!(japan.country.as_deref(), Some("Japan"));
    assert_eq!(japan.timezone.as_deref(), Some("Asia/Tokyo"));
    assert_eq!((japan.region, japan.city), (None, None));
}

#[test]
fn addresses_outside_the_database_are_unknown() {
    let geo = geo();
    for addr in [OUTSIDE, "81.2.70.1", "2001:219::1", "2a00::1"] {
        assert_eq!(geo.locate(ip(addr)), None, "{addr}");
    }
}

#[test]
fn non_public_addresses_are_never_looked_up() {
    // Each of these sits in a decoy network the fixture maps to "ZZ".
    let geo = geo();
    for network in DECOYS {
        assert_eq!(geo.locate(inside(network)), None, "{network}");
    }
    for addr in [
        "127.0.0.1",
        "10.1.2.3",
        "172.20.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "192.0.2.7",
        "198.51.100.7",
        "203.0.113.7",
        "198.18.0.1",
        "224.0.0.1",
        "255.255.255.255",
        "::",
        "::1",
        "fd00::1",
        "fe80::1",
        "ff02::1",
        "2001:db8::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:192.168.0.1",
    ] {
        assert_eq!(geo.locate(ip(addr)), None, "{addr}");
    }
}

#[test]
fn the_decoys_are_really_in_the_database() {
    // Guards the test above: without the address filter these would be found.
    let geo = geo();
    for network in DECOYS {
        let decoy = geo.lookup(inside(network)).expect("lookup works").expect("decoy present");
        assert_eq!(decoy.country_code.as_deref(), Some("ZZ"), "{network}");
    }
}

#[test]
fn ipv4_mapped_ipv6_is_looked_up_as_ipv4() {
    let london = geo().locate(ip("::ffff:81.2.69.142")).expect("mapped London is known");
    assert_eq!(london.city.as_deref(), Some("London"));
}

#[test]
fn opens_a_file_written_by_the_fixture() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("city.mmdb");
    fixture::write_city_db(&path).expect("fixture written");
    let geo = MaxmindGeoLookup::open(&path).expect("fixture opens");
    assert_eq!(geo.locate(ip("89.160.20.112")).and_then(|l| l.city), Some("Linköping".into()));
    assert!(MaxmindGeoLookup::open_or_warn(Some(&path)).is_some());
}

#[test]
fn corrupt_bytes_are_rejected() {
    // Deterministic noise: no metadata marker, so not a MaxMind DB.
    let noise: Vec<u8> = (0u32..4096).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    assert!(matches!(MaxmindGeoLookup::from_bytes(noise.clone()), Err(GeoError::Invalid(_))));

    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("corrupt.mmdb");
    std::fs::write(&path, &noise).expect("noise written");
    assert!(matches!(MaxmindGeoLookup::open(&path), Err(GeoError::Invalid(_))));
    let (geo, log) = capture_warnings(|| MaxmindGeoLookup::open_or_warn(Some(&path)));
    assert!(geo.is_none());
    assert_one_warning_naming(&log, &path);
}

#[test]
fn a_truncated_file_is_rejected() {
    // Cutting off the tail loses the metadata section, as an interrupted download would.
    let mut bytes = fixture::city_db_bytes();
    bytes.truncate(bytes.len() / 2);
    assert!(MaxmindGeoLookup::from_bytes(bytes).is_err());
}

#[test]
fn a_missing_file_warns_once_and_gives_none() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("absent.mmdb");
    assert!(matches!(MaxmindGeoLookup::open(&path), Err(GeoError::Io(_))));
    let (geo, log) = capture_warnings(|| MaxmindGeoLookup::open_or_warn(Some(&path)));
    assert!(geo.is_none());
    assert_one_warning_naming(&log, &path);
}

#[test]
fn no_configured_path_is_silent() {
    let (geo, log) = capture_warnings(|| MaxmindGeoLookup::open_or_warn(None));
    assert!(geo.is_none());
    assert!(log.is_empty(), "unexpected log: {log}");
}

#[test]
fn optional_geo_without_a_database_knows_nothing() {
    let none = OptionalGeo(None);
    assert_eq!(none.locate(ip("81.2.69.142")), None);
    assert_eq!(OptionalGeo::open_or_warn(None).locate(ip("81.2.69.142")), None);

    let some = OptionalGeo(Some(geo()));
    assert!(some.locate(ip("81.2.69.142")).is_some());
}

#[test]
fn one_shared_instance_serves_many_threads() {
    let shared = geo();
    let handles: Vec<_> = (0..8)
        .map(|n| {
            let geo = shared.clone();
            std::thread::spawn(move || {
                for _ in 0..200 {
                    let (addr, country, city) = KNOWN[n % KNOWN.len()];
                    let found = geo.locate(ip(addr)).expect("known address");
                    assert_eq!(found.country_code.as_deref(), Some(country));
                    assert_eq!(found.city.as_deref(), city);
                    assert_eq!(geo.locate(ip("10.0.0.1")), None);
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().expect("lookup thread finished");
    }
}

/// Runs `f` with a subscriber that records WARN and above as plain text.
fn capture_warnings<T>(f: impl FnOnce() -> T) -> (T, String) {
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("log buffer").extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let value = tracing::subscriber::with_default(subscriber, f);
    let log = String::from_utf8(buffer.0.lock().expect("log buffer").clone()).expect("utf-8 log");
    (value, log)
}

fn assert_one_warning_naming(log: &str, path: &Path) {
    let lines: Vec<_> = log.lines().collect();
    assert_eq!(lines.len(), 1, "expected one warning, got: {log}");
    assert!(lines[0].contains("WARN"), "{log}");
    assert!(lines[0].contains(&path.display().to_string()), "{log}");
    assert!(lines[0].contains("geoip.city_db"), "{log}");
}
