#![doc = include_str!("../README.md")]

mod error;
mod lookup;
mod public;

#[cfg(any(test, feature = "fixture"))]
pub mod fixture;

#[cfg(test)]
mod tests;

pub use error::GeoError;
pub use lookup::{MaxmindGeoLookup, OptionalGeo};
