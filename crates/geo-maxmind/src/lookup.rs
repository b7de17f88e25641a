//! The [`GeoLookup`] adapter over a MaxMind-format City database.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use maxminddb::{MaxMindDbError, Reader, geoip2};
use portcullis_domain::model::Location;
use portcullis_domain::ports::GeoLookup;

use crate::error::GeoError;
use crate::public::public_address;

/// IP geolocation from a GeoIP2-City-shaped `.mmdb` file (MaxMind GeoLite2/GeoIP2 City,
/// DB-IP City Lite).
///
/// The database sits in one heap buffer behind an [`Arc`]: cloning is a reference-count
/// increment, so every worker shares the same bytes and lookups need no lock.
#[derive(Clone, Debug)]
pub struct MaxmindGeoLookup {
    reader: Arc<Reader<Vec<u8>>>,
}

impl MaxmindGeoLookup {
    /// Reads the database at `path` into memory once.
    ///
    /// The file is read rather than memory-mapped because maxminddb's `open_mmap` is
    /// `unsafe` (another process truncating the file would be undefined behaviour) and the
    /// workspace forbids unsafe code.
    ///
    /// # Errors
    ///
    /// [`GeoError::Io`] if the file cannot be read, [`GeoError::Invalid`] if it is not a
    /// MaxMind DB.
    pub fn open(path: &Path) -> Result<Self, GeoError> {
        let lookup = Self::new(Reader::open_readfile(path)?);
        let metadata = lookup.reader.metadata();
        tracing::info!(
            path = %path.display(),
            database_type = %metadata.database_type,
            build_epoch = metadata.build_epoch,
            "GeoIP database loaded"
        );
        Ok(lookup)
    }

    /// Uses an in-memory database, e.g. one written by a test.
    ///
    /// # Errors
    ///
    /// [`GeoError::Invalid`] if `bytes` are not a MaxMind DB.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, GeoError> {
        Ok(Self::new(Reader::from_source(bytes)?))
    }

    fn new(reader: Reader<Vec<u8>>) -> Self {
        Self { reader: Arc::new(reader) }
    }

    /// Opens the database at `path` if one is configured (`geoip.city_db`).
    ///
    /// No path gives `None` quietly: running without GeoIP is a supported setup. A path that
    /// cannot be opened logs one warning naming the path and the cause and gives `None`, so a
    /// bad database costs the locations, never the server start.
    pub fn open_or_warn(path: Option<&Path>) -> Option<Self> {
        let path = path?;
        match Self::open(path) {
            Ok(lookup) => Some(lookup),
            Err(error) => {
                tracing::warn!(
                    path = %path.display(),
                    %error,
                    "GeoIP City database (geoip.city_db) unavailable; locations will be null"
                );
                None
            }
        }
    }

    pub(crate) fn lookup(&self, ip: IpAddr) -> Result<Option<Location>, MaxMindDbError> {
        // An IPv4-only database cannot answer for IPv6; maxminddb would report that as an error.
        if ip.is_ipv6() && self.reader.metadata().ip_version == 4 {
            return Ok(None);
        }
        let found = self.reader.lookup(ip)?;
        Ok(found.decode::<geoip2::City<'_>>()?.and_then(|city| to_location(&city)))
    }
}

impl GeoLookup for MaxmindGeoLookup {
    fn locate(&self, ip: IpAddr) -> Option<Location> {
        let ip = public_address(ip)?;
        match self.lookup(ip) {
            Ok(location) => location,
            Err(error) => {
                // A damaged record should not fail a login; debug level because it would
                // repeat for every request from that network.
                tracing::debug!(%ip, %error, "GeoIP lookup failed");
                None
            }
        }
    }
}

/// The domain's view of a City record; `None` when the record says nothing useful.
fn to_location(city: &geoip2::City<'_>) -> Option<Location> {
    let owned = |s: Option<&str>| s.map(str::to_owned);
    let location = Location {
        country_code: owned(city.country.iso_code),
        country: owned(city.country.names.english),
        region: owned(city.subdivisions.first().and_then(|s| s.names.english)),
        city: owned(city.city.names.english),
        latitude: city.location.latitude,
        longitude: city.location.longitude,
        timezone: owned(city.location.time_zone),
    };
    (location != Location::default()).then_some(location)
}

/// The server's GeoIP port: a database when one is configured and readable, otherwise
/// nothing, in which case every location is unknown.
#[derive(Clone, Debug, Default)]
pub struct OptionalGeo(pub Option<MaxmindGeoLookup>);

impl OptionalGeo {
    /// [`MaxmindGeoLookup::open_or_warn`] wrapped for the server.
    pub fn open_or_warn(path: Option<&Path>) -> Self {
        Self(MaxmindGeoLookup::open_or_warn(path))
    }
}

impl GeoLookup for OptionalGeo {
    fn locate(&self, ip: IpAddr) -> Option<Location> {
        self.0.as_ref()?.locate(ip)
    }
}
