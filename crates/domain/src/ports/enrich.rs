//! Ports that turn an IP address and a user agent into a place and a device.

use std::net::IpAddr;

use crate::model::{Device, Location};

/// IP geolocation.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait GeoLookup: Send + Sync + 'static {
    /// Where `ip` is; `None` for private addresses or when the database does not know.
    fn locate(&self, ip: IpAddr) -> Option<Location>;
}

/// User-agent parsing.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait DeviceDetector: Send + Sync + 'static {
    /// What the user agent says; unknown parts stay `None`.
    fn detect(&self, user_agent: &str) -> Device;
}

/// A [`GeoLookup`] for deployments without a GeoIP database: every location is unknown.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoGeoLookup;

impl GeoLookup for NoGeoLookup {
    fn locate(&self, _ip: IpAddr) -> Option<Location> {
        None
    }
}

/// A [`DeviceDetector`] that knows nothing: every device is unknown.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoDeviceDetector;

impl DeviceDetector for NoDeviceDetector {
    fn detect(&self, _user_agent: &str) -> Device {
        Device::default()
    }
}
