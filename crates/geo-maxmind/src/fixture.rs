//! A small GeoIP2-City-shaped database written at test time, so no binary file is committed.
//!
//! The records copy the layout of MaxMind's own City databases (`country.iso_code`,
//! `names.en`, `subdivisions[]`, `location.*`) for a few public networks whose places are
//! listed in [`KNOWN`]. It also holds decoy records for private, loopback, link-local,
//! CGNAT and documentation networks: a lookup adapter that forgets to skip those would
//! answer "ZZ", and tests notice.

use std::path::Path;

use mmdb_writer::Writer;
use mmdb_writer::ipnet::IpNet;
use serde::Serialize;

/// Addresses in the fixture and where they are: `(ip, country_code, city)`.
///
/// 2001:218::1 is known only down to the country (Japan), like many real IPv6 records.
pub const KNOWN: &[(&str, &str, Option<&str>)] = &[
    ("81.2.69.142", "GB", Some("London")),
    ("2.125.160.216", "GB", Some("Boxford")),
    ("89.160.20.112", "SE", Some("Linköping")),
    ("2001:218::1", "JP", None),
];

/// A public address the fixture knows nothing about.
pub const OUTSIDE: &str = "8.8.8.8";

/// One network's full record, so this crate's tests can check every field.
pub(crate) struct Place {
    pub(crate) country_code: &'static str,
    pub(crate) country: &'static str,
    pub(crate) region: Option<&'static str>,
    pub(crate) city: Option<&'static str>,
    pub(crate) latitude: f64,
    pub(crate) longitude: f64,
    pub(crate) timezone: &'static str,
}

/// The public networks behind [`KNOWN`]; values follow MaxMind's GeoIP2-City test data.
pub(crate) const PLACES: &[(&str, Place)] = &[
    (
        "81.2.69.0/24",
        Place {
            country_code: "GB",
            country: "United Kingdom",
            region: Some("England"),
            city: Some("London"),
            latitude: 51.5142,
            longitude: -0.0931,
            timezone: "Europe/London",
        },
    ),
    (
        "2.125.160.0/24",
        Place {
            country_code: "GB",
            country: "United Kingdom",
            region: Some("England"),
            city: Some("Boxford"),
            latitude: 51.75,
            longitude: -1.25,
            timezone: "Europe/London",
        },
    ),
    (
        "89.160.20.0/24",
        Place {
            country_code: "SE",
            country: "Sweden",
            region: Some("Östergötland County"),
            city: Some("Linköping"),
            latitude: 58.4167,
            longitude: 15.6167,
            timezone: "Europe/Stockholm",
        },
    ),
    (
        "2001:218::/32",
        Place {
            country_code: "JP",
            country: "Japan",
            region: None,
            city: None,
            latitude: 35.68536,
            longitude: 139.75309,
            timezone: "Asia/Tokyo",
        },
    ),
];

/// Non-public networks that carry a decoy record ("ZZ"); the adapter must never return it.
pub(crate) const DECOYS: &[&str] = &[
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.2.0/24",
    "192.168.0.0/16",
    "fc00::/7",
    "fe80::/10",
    "2001:db8::/32",
];

const DECOY: Place = Place {
    country_code: "ZZ",
    country: "Decoy",
    region: Some("Decoy"),
    city: Some("Decoy"),
    latitude: 0.0,
    longitude: 0.0,
    timezone: "Etc/UTC",
};

#[derive(Serialize)]
struct Names<'a> {
    en: &'a str,
}

#[derive(Serialize)]
struct Named<'a> {
    names: Names<'a>,
}

#[derive(Serialize)]
struct Country<'a> {
    iso_code: &'a str,
    names: Names<'a>,
}

#[derive(Serialize)]
struct Coordinates<'a> {
    latitude: f64,
    longitude: f64,
    time_zone: &'a str,
}

/// The GeoIP2 City layout; `None` fields are left out of the record, as MaxMind does.
#[derive(Serialize)]
struct CityRecord<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    city: Option<Named<'a>>,
    country: Country<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    subdivisions: Vec<Named<'a>>,
    location: Coordinates<'a>,
}

impl<'a> From<&'a Place> for CityRecord<'a> {
    fn from(place: &'a Place) -> Self {
        let named = |en| Named { names: Names { en } };
        Self {
            city: place.city.map(named),
            country: Country { iso_code: place.country_code, names: Names { en: place.country } },
            subdivisions: place.region.map(named).into_iter().collect(),
            location: Coordinates { latitude: place.latitude, longitude: place.longitude, time_zone: place.timezone },
        }
    }
}

fn build() -> Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>> {
    // The same database type string as MaxMind's file, so the fixture looks like the real thing.
    let mut writer = Writer::new("GeoIP2-City");
    for network in DECOYS {
        writer.insert(network.parse::<IpNet>()?, &CityRecord::from(&DECOY))?;
    }
    for (network, place) in PLACES {
        writer.insert(network.parse::<IpNet>()?, &CityRecord::from(place))?;
    }
    Ok(writer.to_bytes()?)
}

/// The fixture database as bytes, for [`crate::MaxmindGeoLookup::from_bytes`].
///
/// # Panics
///
/// Only if mmdb-writer rejects the fixed data above, which would be a bug in this module.
pub fn city_db_bytes() -> Vec<u8> {
    build().unwrap_or_else(|error| panic!("the GeoIP fixture cannot be written: {error}"))
}

/// Writes the fixture database to `path`, for code that opens a `geoip.city_db` file.
///
/// # Errors
///
/// Any I/O error writing `path`.
pub fn write_city_db(path: &Path) -> std::io::Result<()> {
    let bytes = build().map_err(std::io::Error::other)?;
    std::fs::write(path, bytes)
}
