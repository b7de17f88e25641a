#![doc = include_str!("../README.md")]

mod cache;
mod classify;

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use portcullis_domain::model::Device;
use portcullis_domain::ports::DeviceDetector;
use ua_parser::{Extractor, Regexes};

use crate::cache::DeviceCache;

/// uap-core's `regexes.yaml`, converted to JSON by `build.rs` from the pinned `ua-parser` package.
static RULES_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/regexes.json"));

/// The compiled rules, built once per process. The extractor borrows from the rules' text, which is
/// `'static`, so it can live in a static and every detector shares its ~20 MiB of compiled regexes.
static EXTRACTOR: OnceLock<Extractor<'static>> = OnceLock::new();

/// Where `build.rs` read the rules from (a path in cargo's registry sources on the build machine).
pub const RULES_SOURCE: &str = env!("PORTCULLIS_UAP_RULES_PATH");

/// Longest user agent parsed or cached, in characters (the audit log keeps the same length).
pub const MAX_USER_AGENT_LEN: usize = portcullis_domain::model::MAX_USER_AGENT_LEN;

/// Cache capacity of [`UapDeviceDetector::new`].
pub const DEFAULT_CACHE_CAPACITY: usize = 4096;

/// Why the detector could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceError {
    /// The embedded rules are not valid JSON for `ua_parser::Regexes` (a build problem, not a runtime one).
    #[error("the embedded uap-core rules do not deserialize")]
    Rules(#[source] serde_json::Error),
    /// A rule did not compile.
    #[error("the uap-core rules do not compile")]
    Compile(#[source] ua_parser::Error),
}

/// A [`DeviceDetector`] on the uap-core rules through the `ua-parser` crate, with a bounded cache.
///
/// Cloning is cheap and clones share one cache; the compiled rules are shared by every detector in the process.
/// Both parsing and caching happen inside [`DeviceDetector::detect`], which is synchronous: a cache miss
/// costs one parse (about 12 µs in release), no lock is held while parsing.
#[derive(Clone)]
pub struct UapDeviceDetector {
    cache: Arc<DeviceCache>,
    extractor: &'static Extractor<'static>,
}

impl fmt::Debug for UapDeviceDetector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The extractor is thousands of compiled regexes and has no Debug of its own.
        f.debug_struct("UapDeviceDetector").field("cache", &self.cache).finish_non_exhaustive()
    }
}

impl UapDeviceDetector {
    /// A detector with a cache of [`DEFAULT_CACHE_CAPACITY`] user agents.
    ///
    /// The first detector of the process compiles the rules (about 0.2 s in release, up to 1 s in debug):
    /// build it at start-up, not on a request.
    ///
    /// # Errors
    /// [`DeviceError`] if the embedded rules do not load, which only a broken build can cause.
    pub fn new() -> Result<Self, DeviceError> {
        Self::with_cache_capacity(DEFAULT_CACHE_CAPACITY)
    }

    /// A detector caching at most `capacity` user agents; `0` turns the cache off.
    ///
    /// # Errors
    /// As [`UapDeviceDetector::new`].
    pub fn with_cache_capacity(capacity: usize) -> Result<Self, DeviceError> {
        Ok(Self { cache: Arc::new(DeviceCache::new(capacity)), extractor: extractor()? })
    }

    /// Parses without looking at or filling the cache; for benchmarks and tests.
    pub fn parse_uncached(&self, user_agent: &str) -> Device {
        match prepare(user_agent) {
            Some(ua) => classify::device(self.extractor, ua),
            None => Device::default(),
        }
    }

    /// User agents currently cached (never more than [`UapDeviceDetector::cache_capacity`]).
    pub fn cache_len(&self) -> usize {
        self.cache.len()
    }

    /// The most user agents the cache holds; may round the requested capacity down to a multiple of the
    /// shard count.
    pub fn cache_capacity(&self) -> usize {
        self.cache.capacity()
    }
}

impl DeviceDetector for UapDeviceDetector {
    /// Empty or blank user agents give [`Device::default`] (all `None`) without touching the cache; anything
    /// else is cut to [`MAX_USER_AGENT_LEN`] characters, then looked up, and parsed on a miss.
    fn detect(&self, user_agent: &str) -> Device {
        let Some(ua) = prepare(user_agent) else { return Device::default() };
        if let Some(hit) = self.cache.get(ua) {
            return hit;
        }
        // Parsed between the lookup and the insert, outside both locks: two threads missing on the same
        // user agent both parse it, which is cheaper than making either wait.
        let device = classify::device(self.extractor, ua);
        self.cache.insert(ua, device.clone());
        device
    }
}

/// The part of a user agent that is parsed and cached: `None` when blank, else at most
/// [`MAX_USER_AGENT_LEN`] characters (so 5 KB of junk costs what 512 characters cost).
fn prepare(user_agent: &str) -> Option<&str> {
    let end = user_agent.char_indices().nth(MAX_USER_AGENT_LEN).map_or(user_agent.len(), |(i, _)| i);
    let ua = user_agent.get(..end).unwrap_or(user_agent);
    (!ua.trim().is_empty()).then_some(ua)
}

/// Compiles the embedded uap-core rules from scratch and drops the result: what the first
/// detector of a process costs (every later one shares the compiled rules). For benchmarks.
///
/// # Errors
/// As [`UapDeviceDetector::new`].
pub fn compile_rules_uncached() -> Result<(), DeviceError> {
    let regexes: Regexes<'static> = serde_json::from_str(RULES_JSON).map_err(DeviceError::Rules)?;
    Extractor::try_from(regexes).map_err(DeviceError::Compile)?;
    Ok(())
}

/// The process-wide extractor, compiled on first use. A failed build is not stored, so it is retried (and
/// fails again) on the next call rather than poisoning the process.
fn extractor() -> Result<&'static Extractor<'static>, DeviceError> {
    if let Some(ex) = EXTRACTOR.get() {
        return Ok(ex);
    }
    let started = Instant::now();
    let regexes: Regexes<'static> = serde_json::from_str(RULES_JSON).map_err(DeviceError::Rules)?;
    let built = Extractor::try_from(regexes).map_err(DeviceError::Compile)?;
    // Two threads racing here both compile; one result is kept. Only happens at start-up.
    let ex = EXTRACTOR.get_or_init(|| built);
    tracing::info!(elapsed_ms = started.elapsed().as_millis(), "compiled the uap-core user-agent rules");
    Ok(ex)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepare_cuts_on_a_character_boundary() {
        let long = "é".repeat(MAX_USER_AGENT_LEN + 10);
        let cut = prepare(&long).expect("not blank");
        assert_eq!(cut.chars().count(), MAX_USER_AGENT_LEN);
        assert_eq!(prepare("curl/8"), Some("curl/8"));
        assert_eq!(prepare("  \t"), None);
    }

    #[test]
    fn rules_source_names_the_pinned_package() {
        assert!(RULES_SOURCE.contains("ua-parser-"), "{RULES_SOURCE}");
        assert!(RULES_SOURCE.ends_with("regexes.yaml"), "{RULES_SOURCE}");
    }
}
