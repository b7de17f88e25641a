//! The JSON stored in `device`, `location`, `metadata`, notification `data` and user `roles`
//! columns.

use portcullis_domain::model::{AuthMethod, Device, Location, Role, Roles};
use serde::{Deserialize, Serialize};

use crate::error::DbError;
use crate::sql_types::DbJson;

pub(super) fn to_json<T: Serialize>(value: &T) -> Result<DbJson, DbError> {
    serde_json::to_string(value).map(DbJson).map_err(|e| DbError::corrupt(format!("unencodable JSON: {e}")))
}

pub(super) fn from_json<T: for<'de> Deserialize<'de>>(json: &DbJson, what: &str) -> Result<T, DbError> {
    serde_json::from_str(&json.0).map_err(|e| DbError::corrupt(format!("{what} JSON: {e}")))
}

/// `Device` as stored: unknown parts are left out.
#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
struct DeviceJson {
    #[serde(skip_serializing_if = "Option::is_none")]
    browser: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    browser_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    os: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    os_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device_type: Option<String>,
}

pub(super) fn device_to_db(d: &Device) -> Result<DbJson, DbError> {
    to_json(&DeviceJson {
        browser: d.browser.clone(),
        browser_version: d.browser_version.clone(),
        os: d.os.clone(),
        os_version: d.os_version.clone(),
        device_type: d.device_type.clone(),
    })
}

pub(super) fn device_from_db(json: &DbJson) -> Result<Device, DbError> {
    let d: DeviceJson = from_json(json, "device")?;
    Ok(Device {
        browser: d.browser,
        browser_version: d.browser_version,
        os: d.os,
        os_version: d.os_version,
        device_type: d.device_type,
    })
}

/// `Location` as stored: unknown parts are left out.
#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
struct LocationJson {
    #[serde(skip_serializing_if = "Option::is_none")]
    country_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    city: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    latitude: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    longitude: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timezone: Option<String>,
}

pub(super) fn location_to_db(l: Option<&Location>) -> Result<Option<DbJson>, DbError> {
    l.map(|l| {
        to_json(&LocationJson {
            country_code: l.country_code.clone(),
            country: l.country.clone(),
            region: l.region.clone(),
            city: l.city.clone(),
            latitude: l.latitude,
            longitude: l.longitude,
            timezone: l.timezone.clone(),
        })
    })
    .transpose()
}

pub(super) fn location_from_db(json: Option<DbJson>) -> Result<Option<Location>, DbError> {
    let Some(json) = json else { return Ok(None) };
    let l: LocationJson = from_json(&json, "location")?;
    Ok(Some(Location {
        country_code: l.country_code,
        country: l.country,
        region: l.region,
        city: l.city,
        latitude: l.latitude,
        longitude: l.longitude,
        timezone: l.timezone,
    }))
}

/// `Roles` as stored: an array of role names, `["admin", "user"]`.
pub(crate) fn roles_to_db(roles: &Roles) -> Result<DbJson, DbError> {
    to_json(&roles.names())
}

/// An unknown role name is corrupt data rather than a role silently dropped.
pub(super) fn roles_from_db(json: &DbJson) -> Result<Roles, DbError> {
    let names: Vec<String> = from_json(json, "roles")?;
    let roles = names
        .iter()
        .map(|name| Role::parse(name).ok_or_else(|| DbError::corrupt(format!("role {name:?}"))))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Roles::new(roles))
}

/// A session's `amr`: the RFC 8176 names, in order.
pub(super) fn amr_to_db(amr: &[AuthMethod]) -> Result<DbJson, DbError> {
    to_json(&amr.iter().map(|m| m.as_str()).collect::<Vec<_>>())
}

/// An unknown method is corrupt data rather than a method silently dropped.
pub(super) fn amr_from_db(json: &DbJson) -> Result<Vec<AuthMethod>, DbError> {
    let names: Vec<String> = from_json(json, "amr")?;
    names.iter().map(|name| AuthMethod::parse(name).ok_or_else(|| DbError::corrupt(format!("amr {name:?}")))).collect()
}
