//! [`FixedGeo`] and [`FixedDevices`]: lookup tables instead of a GeoIP database and a
//! user-agent parser.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use portcullis_domain::model::{Device, Location};
use portcullis_domain::ports::{DeviceDetector, GeoLookup};

/// A [`GeoLookup`] answering from a table; unknown addresses have no location.
/// Clones share the table, so a test can add addresses after building the service.
#[derive(Clone, Debug, Default)]
pub struct FixedGeo {
    table: Arc<Mutex<HashMap<IpAddr, Location>>>,
}

impl FixedGeo {
    /// A lookup that knows these addresses.
    pub fn new(table: HashMap<IpAddr, Location>) -> Self {
        Self { table: Arc::new(Mutex::new(table)) }
    }

    /// Places `ip` at `location`.
    pub fn insert(&self, ip: IpAddr, location: Location) {
        self.table.lock().unwrap_or_else(|e| e.into_inner()).insert(ip, location);
    }
}

impl GeoLookup for FixedGeo {
    fn locate(&self, ip: IpAddr) -> Option<Location> {
        self.table.lock().unwrap_or_else(|e| e.into_inner()).get(&ip).cloned()
    }
}

/// A [`DeviceDetector`] answering from a table of exact user-agent strings; any other user
/// agent is an unknown device. Clones share the table.
#[derive(Clone, Debug, Default)]
pub struct FixedDevices {
    table: Arc<Mutex<HashMap<String, Device>>>,
}

impl FixedDevices {
    /// A detector that knows these user agents.
    pub fn new(table: HashMap<String, Device>) -> Self {
        Self { table: Arc::new(Mutex::new(table)) }
    }

    /// Makes `user_agent` parse as `device`.
    pub fn insert(&self, user_agent: impl Into<String>, device: Device) {
        self.table.lock().unwrap_or_else(|e| e.into_inner()).insert(user_agent.into(), device);
    }
}

impl DeviceDetector for FixedDevices {
    fn detect(&self, user_agent: &str) -> Device {
        self.table.lock().unwrap_or_else(|e| e.into_inner()).get(user_agent).cloned().unwrap_or_default()
    }
}

/// London, as the contract's example shows it.
pub fn london() -> Location {
    Location {
        country_code: Some("GB".to_owned()),
        country: Some("United Kingdom".to_owned()),
        region: Some("England".to_owned()),
        city: Some("London".to_owned()),
        latitude: Some(51.5142),
        longitude: Some(-0.0931),
        timezone: Some("Europe/London".to_owned()),
    }
}

/// Firefox 128 on Linux, a desktop.
pub fn firefox_on_linux() -> Device {
    Device {
        browser: Some("Firefox".to_owned()),
        browser_version: Some("128.0".to_owned()),
        os: Some("Linux".to_owned()),
        os_version: None,
        device_type: Some("desktop".to_owned()),
    }
}
