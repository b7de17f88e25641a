//! The breach source the server screens new passwords with (`passwords.breach_check`),
//! counting every lookup's outcome for the metrics.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use portcullis_breach::{BreachFilter, RangeApi};
use portcullis_domain::model::Password;
use portcullis_domain::ports::{BreachLookupError, BreachedPasswords, Exposure};

use crate::config::{BreachCheck, PasswordSettings};
use crate::wiring::WiringError;

/// Where lookups go.
enum Source {
    /// `off`: the domain never asks (its policy has no `breach`); answers unlisted.
    Off,
    /// `range`: Have I Been Pwned's range API or a mirror.
    Range(RangeApi),
    /// `filter`: the local filter file, in memory.
    Filter(BreachFilter),
}

/// Lookups by outcome since start; read by the metrics at each scrape.
#[derive(Debug, Default)]
pub struct BreachCounts {
    unlisted: AtomicU64,
    listed: AtomicU64,
    failed: AtomicU64,
    timed_out: AtomicU64,
}

/// A snapshot of [`BreachCounts`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BreachLookupStats {
    /// Answered: not in the source (or under its count).
    pub unlisted: u64,
    /// Answered: in the source with a count (refused or not, by `breach_min_count`).
    pub listed: u64,
    /// No answer: the source failed or answered garbage.
    pub failed: u64,
    /// No answer in `passwords.breach_timeout_ms`.
    pub timed_out: u64,
}

/// A read-only view of the lookup counts, for the metrics.
#[derive(Clone, Debug, Default)]
pub struct BreachGauge(Arc<BreachCounts>);

impl BreachGauge {
    /// The counts now.
    pub fn stats(&self) -> BreachLookupStats {
        let c = &self.0;
        BreachLookupStats {
            unlisted: c.unlisted.load(Ordering::Relaxed),
            listed: c.listed.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            timed_out: c.timed_out.load(Ordering::Relaxed),
        }
    }
}

/// The server's [`BreachedPasswords`] adapter: the configured source, counted.
pub struct Breaches {
    source: Source,
    counts: Arc<BreachCounts>,
}

impl std::fmt::Debug for Breaches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mode = match self.source {
            Source::Off => "off",
            Source::Range(_) => "range",
            Source::Filter(_) => "filter",
        };
        f.debug_struct("Breaches").field("mode", &mode).finish_non_exhaustive()
    }
}

impl Breaches {
    /// The source `settings` name: the range client, or the filter file read and checked now
    /// (a missing, corrupt or mismatched file stops the start, rather than letting every
    /// password through unscreened).
    ///
    /// # Errors
    /// [`WiringError::Config`] naming the setting.
    pub fn from_settings(p: &PasswordSettings) -> Result<Self, WiringError> {
        let source = match p.breach_mode().map_err(WiringError::Config)? {
            BreachCheck::Off => Source::Off,
            BreachCheck::Range => {
                let api = RangeApi::new(&p.breach_api_url, Duration::from_millis(p.breach_timeout_ms))
                    .map_err(|e| WiringError::Config(format!("passwords.breach_api_url: {e}")))?;
                tracing::info!(url = %p.breach_api_url, "breached passwords: range API");
                Source::Range(api)
            }
            BreachCheck::Filter => {
                let path = p.breach_filter_file.as_deref().ok_or_else(|| {
                    WiringError::Config("passwords.breach_check = \"filter\" needs passwords.breach_filter_file".into())
                })?;
                let filter = BreachFilter::open(path).map_err(|e| {
                    WiringError::Config(format!("passwords.breach_filter_file {}: {e}", path.display()))
                })?;
                check_threshold(filter.threshold(), p.breach_min_count)?;
                tracing::info!(
                    file = %path.display(),
                    hashes = filter.key_count(),
                    threshold = filter.threshold(),
                    source_date = filter.source_date(),
                    checksum = %filter.checksum_hex(),
                    "breached passwords: filter loaded"
                );
                Source::Filter(filter)
            }
        };
        Ok(Self { source, counts: Arc::default() })
    }

    /// The view the metrics read.
    pub fn gauge(&self) -> BreachGauge {
        BreachGauge(self.counts.clone())
    }
}

/// A filter holds the hashes seen at least its threshold times. Built with a higher count
/// than `breach_min_count`, it misses passwords the setting refuses: a warning. Built with a
/// lower one, its members cannot be told apart from those the setting lets through: refused,
/// since `Exposure::Listed` would then never reach the minimum and nothing would be screened.
fn check_threshold(threshold: u64, min_count: u64) -> Result<(), WiringError> {
    if threshold < min_count {
        return Err(WiringError::Config(format!(
            "passwords.breach_filter_file was built with threshold {threshold}, below passwords.breach_min_count \
             {min_count}: none of its members would be refused; rebuild it with --threshold {min_count}"
        )));
    }
    if threshold > min_count {
        tracing::warn!(
            threshold,
            min_count,
            "the breach filter leaves out passwords seen fewer than {threshold} times; passwords.breach_min_count asks for {min_count}"
        );
    }
    Ok(())
}

impl BreachedPasswords for Breaches {
    async fn exposure(&self, password: &Password) -> Result<Exposure, BreachLookupError> {
        let answer = match &self.source {
            Source::Off => Ok(Exposure::Unlisted),
            Source::Range(api) => api.exposure(password).await,
            Source::Filter(filter) => filter.exposure(password).await,
        };
        let c = &self.counts;
        let counter = match &answer {
            Ok(Exposure::Unlisted) => &c.unlisted,
            Ok(_) => &c.listed,
            Err(BreachLookupError::Timeout) => &c.timed_out,
            Err(_) => &c.failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = &answer {
            // The error carries no part of the password or its hash.
            tracing::warn!(error = %e, "breached-password lookup failed");
        }
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter_settings(path: &std::path::Path, min_count: u64) -> PasswordSettings {
        PasswordSettings {
            breach_check: "filter".to_owned(),
            breach_filter_file: Some(path.to_owned()),
            breach_min_count: min_count,
            ..PasswordSettings::default()
        }
    }

    #[test]
    fn a_missing_corrupt_or_too_loose_filter_stops_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("breach.filter");
        let err = Breaches::from_settings(&filter_settings(&path, 1)).unwrap_err();
        assert!(err.to_string().contains("passwords.breach_filter_file"), "{err}");

        let list = format!("{}:3\n", "AB".repeat(20));
        let (filter, _) = portcullis_breach::build_filter(list.as_bytes(), 3, "2026-11-30").unwrap();
        portcullis_breach::write_filter(&path, &filter).unwrap();
        assert!(Breaches::from_settings(&filter_settings(&path, 3)).is_ok());
        assert!(Breaches::from_settings(&filter_settings(&path, 1)).is_ok(), "a stricter filter only warns");
        let err = Breaches::from_settings(&filter_settings(&path, 4)).unwrap_err();
        assert!(err.to_string().contains("threshold 3"), "{err}");

        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 40;
        bytes[last] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        assert!(Breaches::from_settings(&filter_settings(&path, 3)).is_err(), "a flipped bit fails the checksum");
    }

    #[test]
    fn a_filter_built_below_the_minimum_is_refused_and_one_above_accepted() {
        assert!(check_threshold(1, 5).is_err());
        assert!(check_threshold(5, 5).is_ok());
        assert!(check_threshold(10, 5).is_ok());
    }
}
