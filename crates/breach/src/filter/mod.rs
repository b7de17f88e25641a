//! [`BreachFilter`], the offline [`BreachedPasswords`] adapter: a binary fuse filter of the
//! SHA-1s of breached passwords, loaded from a file at start, answering from memory.
//!
//! The filter holds a 64-bit key per hash (the SHA-1's first 8 bytes, big-endian) with
//! 16-bit fingerprints: no false negatives, about 1 false positive in 65,536 lookups of
//! unlisted passwords, about 2.26 bytes per hash. It keeps membership only, so a member is
//! [`Exposure::Listed`] with the threshold the file was built with.

mod build;
mod format;

use std::fmt;
use std::fs::File;
use std::io::{self, BufReader};
use std::path::Path;

pub use build::{BuildError, BuildStats, MAX_KEYS, build_filter, write_filter};
pub use format::FilterFileError;
use portcullis_domain::model::Password;
use portcullis_domain::ports::{BreachLookupError, BreachedPasswords, Exposure};
use xorf::{BinaryFuse16, Filter as _};

use crate::hash::sha1_of;

/// A breached-password filter file, loaded and checked (see the crate's README for the
/// layout). Lookups never fail and never leave the process.
pub struct BreachFilter {
    filter: BinaryFuse16,
    threshold: u64,
    source_date: [u8; 10],
    key_count: u64,
    checksum: [u8; 32],
}

impl BreachFilter {
    /// Loads the filter file at `path`: magic, version, length and SHA-256 checksum are all
    /// checked before the filter is used. Memory: the file's size (read in chunks, not
    /// twice).
    ///
    /// # Errors
    /// [`FilterFileError`]: unreadable, not a filter file, an unknown version, truncated or
    /// longer than its header says, a checksum mismatch, or inconsistent fields.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, FilterFileError> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        format::decode(BufReader::with_capacity(256 * 1024, file), len)
    }

    /// Reads a filter from the bytes of a filter file, with the checks of
    /// [`open`](Self::open).
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FilterFileError> {
        format::decode(bytes, bytes.len() as u64)
    }

    /// The file's bytes (what [`write_filter`] writes).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(usize::try_from(self.file_len()).unwrap_or(0));
        // Writing to a Vec cannot fail.
        let _ = self.write_to(&mut out);
        out
    }

    /// Writes the file's bytes to `out`, streaming (memory use does not grow with the filter).
    ///
    /// # Errors
    /// The writer's.
    pub fn write_to(&self, out: &mut impl io::Write) -> io::Result<()> {
        format::encode(&self.filter, self.threshold, &self.source_date, self.key_count, out).map(drop)
    }

    /// Wraps a filter whose file checksum is known (just read, or just computed).
    fn from_checked(
        filter: BinaryFuse16,
        threshold: u64,
        source_date: [u8; 10],
        key_count: u64,
        checksum: [u8; 32],
    ) -> Self {
        Self { filter, threshold, source_date, key_count, checksum }
    }

    /// Every member was seen at least this often in the source list.
    pub fn threshold(&self) -> u64 {
        self.threshold
    }

    /// The date of the hash list the filter was built from, `YYYY-MM-DD`.
    pub fn source_date(&self) -> &str {
        // Checked to be ASCII digits and dashes when built or read.
        std::str::from_utf8(&self.source_date).unwrap_or("0000-00-00")
    }

    /// How many distinct keys the filter was built from.
    pub fn key_count(&self) -> u64 {
        self.key_count
    }

    /// The file's size in bytes: 98 plus 2 per fingerprint (about 1.13 fingerprints per key).
    pub fn file_len(&self) -> u64 {
        (format::HEADER_LEN + format::CHECKSUM_LEN) as u64 + 2 * self.filter.fingerprints.len() as u64
    }

    /// The SHA-256 stored at the end of the file, in lower-case hex: names this exact
    /// filter (a rebuild from the same list, threshold and date gives the same bytes).
    pub fn checksum_hex(&self) -> String {
        self.checksum.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Whether the SHA-1 `sha1` is in the filter: always for a hash it was built from,
    /// falsely for about 1 in 65,536 others.
    pub fn contains_sha1(&self, sha1: &[u8; 20]) -> bool {
        self.filter.contains(&key_of(sha1))
    }
}

/// The filter's key for a SHA-1: its first 8 bytes, big-endian. SHA-1 is uniform, so 64
/// bits keep collisions negligible: two of a billion hashes share a key with probability
/// about 3% (harmless: the builder merges them), and a key collision adds about
/// n / 2^64 (5e-11 at n = 10^9) to the false-positive rate.
pub(crate) fn key_of(sha1: &[u8; 20]) -> u64 {
    let mut first = [0u8; 8];
    first.copy_from_slice(&sha1[..8]);
    u64::from_be_bytes(first)
}

impl fmt::Debug for BreachFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreachFilter")
            .field("threshold", &self.threshold)
            .field("source_date", &self.source_date())
            .field("key_count", &self.key_count)
            .field("checksum", &self.checksum_hex())
            .finish_non_exhaustive()
    }
}

impl BreachedPasswords for BreachFilter {
    async fn exposure(&self, password: &Password) -> Result<Exposure, BreachLookupError> {
        Ok(if self.contains_sha1(&sha1_of(password)) {
            Exposure::Listed { threshold: self.threshold }
        } else {
            Exposure::Unlisted
        })
    }
}
