//! The filter file's bytes: writing them (with the checksum) and reading them back, checked
//! before any field is trusted.
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `PCBREACH` |
//! | 8 | 4 | format version, u32 LE (1) |
//! | 12 | 8 | threshold, u64 LE |
//! | 20 | 10 | source date, ASCII `YYYY-MM-DD` |
//! | 30 | 8 | key count (distinct keys the filter was built from), u64 LE |
//! | 38 | 8 | filter seed, u64 LE |
//! | 46 | 4 | segment length, u32 LE |
//! | 50 | 4 | segment length mask, u32 LE |
//! | 54 | 4 | segment count length, u32 LE |
//! | 58 | 8 | fingerprint count n, u64 LE |
//! | 66 | 2n | fingerprints, u16 LE each |
//! | 66 + 2n | 32 | SHA-256 of bytes 0 .. 66 + 2n |

use std::io::{self, Read, Write};

use sha2::{Digest as _, Sha256};
use xorf::{BinaryFuse16, Descriptor};

use super::BreachFilter;

/// The first bytes of every filter file.
pub(crate) const MAGIC: &[u8; 8] = b"PCBREACH";
/// The layout above, with xorf 0.13's `BinaryFuse16` hashing.
pub(crate) const VERSION: u32 = 1;
/// Bytes before the fingerprints.
pub(crate) const HEADER_LEN: usize = 66;
/// The SHA-256 at the end.
pub(crate) const CHECKSUM_LEN: usize = 32;
/// Fingerprints are converted and hashed this many at a time.
const CHUNK: usize = 32 * 1024;

/// Why a filter file was not loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FilterFileError {
    /// The file could not be read.
    #[error("cannot read the breach filter: {0}")]
    Io(#[from] io::Error),
    /// The file does not start with `PCBREACH`.
    #[error("not a Portcullis breach filter (wrong magic bytes)")]
    NotAFilter,
    /// A format version this build cannot read.
    #[error("breach filter format version {0} is not supported (this build reads version {VERSION})")]
    UnknownVersion(u32),
    /// Shorter than its header says: an interrupted copy or download.
    #[error("breach filter truncated: {actual} of {expected} bytes")]
    Truncated {
        /// The length the header implies (or the header's own length, when even that is cut).
        expected: u64,
        /// The length found.
        actual: u64,
    },
    /// Longer than its header says.
    #[error("breach filter has {actual} bytes where its header says {expected}")]
    TrailingData {
        /// The length the header implies.
        expected: u64,
        /// The length found.
        actual: u64,
    },
    /// The SHA-256 at the end does not match the contents: the file was corrupted or altered.
    #[error("breach filter checksum mismatch: the file is corrupted or was altered")]
    ChecksumMismatch,
    /// A checksummed file whose fields contradict each other (written by a broken tool).
    #[error("breach filter is inconsistent: {0}")]
    Inconsistent(&'static str),
}

/// Whether `date` is a calendar date written `YYYY-MM-DD`.
pub(crate) fn valid_source_date(date: &[u8]) -> bool {
    let [y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1] = *date else { return false };
    let digits = [y0, y1, y2, y3, m0, m1, d0, d1];
    if !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let number = |ds: &[u8]| ds.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
    let (Ok(year), Ok(month), Ok(day)) = (
        i32::try_from(number(&digits[..4])),
        u8::try_from(number(&digits[4..6])).map_err(|_| ()).and_then(|m| time::Month::try_from(m).map_err(|_| ())),
        u8::try_from(number(&digits[6..])),
    ) else {
        return false;
    };
    time::Date::from_calendar_date(year, month, day).is_ok()
}

/// Writes to `inner` and hashes what it writes.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes the whole file to `out` and returns its checksum. Streams: memory use does not
/// grow with the filter.
pub(crate) fn encode(
    filter: &BinaryFuse16,
    threshold: u64,
    source_date: &[u8; 10],
    key_count: u64,
    out: &mut impl Write,
) -> io::Result<[u8; 32]> {
    let mut w = Hashing { inner: out, hasher: Sha256::new() };
    let d = &filter.descriptor;
    let mut header = Vec::with_capacity(HEADER_LEN);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&VERSION.to_le_bytes());
    header.extend_from_slice(&threshold.to_le_bytes());
    header.extend_from_slice(source_date);
    header.extend_from_slice(&key_count.to_le_bytes());
    header.extend_from_slice(&d.seed.to_le_bytes());
    header.extend_from_slice(&d.segment_length.to_le_bytes());
    header.extend_from_slice(&d.segment_length_mask.to_le_bytes());
    header.extend_from_slice(&d.segment_count_length.to_le_bytes());
    header.extend_from_slice(&(filter.fingerprints.len() as u64).to_le_bytes());
    debug_assert_eq!(header.len(), HEADER_LEN);
    w.write_all(&header)?;
    let mut buf = Vec::with_capacity(CHUNK * 2);
    for chunk in filter.fingerprints.chunks(CHUNK) {
        buf.clear();
        buf.extend(chunk.iter().flat_map(|f| f.to_le_bytes()));
        w.write_all(&buf)?;
    }
    let checksum: [u8; 32] = w.hasher.finalize().into();
    w.inner.write_all(&checksum)?;
    Ok(checksum)
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(b)
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(b)
}

/// Reads into `buf` until it is full or the input ends; the bytes read.
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Reads a filter file of `len` bytes from `r`: magic, version, length, checksum, then the
/// fields' consistency, in that order, so each failure gets its own message. Memory is
/// bounded by `len` (the fingerprint count is checked against it before anything is
/// allocated).
pub(crate) fn decode(mut r: impl Read, len: u64) -> Result<BreachFilter, FilterFileError> {
    let mut header = [0u8; HEADER_LEN];
    let got = read_up_to(&mut r, &mut header)?;
    let cut = || FilterFileError::Truncated { expected: (HEADER_LEN + CHECKSUM_LEN) as u64, actual: len };
    if got < MAGIC.len() {
        return Err(if MAGIC.starts_with(&header[..got]) { cut() } else { FilterFileError::NotAFilter });
    }
    if &header[..8] != MAGIC {
        return Err(FilterFileError::NotAFilter);
    }
    if got < 12 {
        return Err(cut());
    }
    let version = u32_at(&header, 8);
    if version != VERSION {
        return Err(FilterFileError::UnknownVersion(version));
    }
    if got < HEADER_LEN {
        return Err(cut());
    }
    let count = u64_at(&header, 58);
    let expected = count
        .checked_mul(2)
        .and_then(|n| n.checked_add((HEADER_LEN + CHECKSUM_LEN) as u64))
        .ok_or(FilterFileError::Inconsistent("fingerprint count out of range"))?;
    if len < expected {
        return Err(FilterFileError::Truncated { expected, actual: len });
    }
    if len > expected {
        return Err(FilterFileError::TrailingData { expected, actual: len });
    }
    let count = usize::try_from(count).map_err(|_| FilterFileError::Inconsistent("too large for this machine"))?;

    let mut hasher = Sha256::new();
    hasher.update(header);
    let mut fingerprints: Vec<u16> = Vec::with_capacity(count);
    let mut buf = vec![0u8; CHUNK * 2];
    while fingerprints.len() < count {
        let take = (count - fingerprints.len()).min(CHUNK) * 2;
        let chunk = &mut buf[..take];
        r.read_exact(chunk).map_err(|e| match e.kind() {
            // The file shrank while being read.
            io::ErrorKind::UnexpectedEof => FilterFileError::Truncated { expected, actual: len },
            _ => FilterFileError::Io(e),
        })?;
        hasher.update(&*chunk);
        fingerprints.extend(chunk.chunks_exact(2).map(|p| u16::from_le_bytes([p[0], p[1]])));
    }
    let mut stored = [0u8; CHECKSUM_LEN];
    r.read_exact(&mut stored).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => FilterFileError::Truncated { expected, actual: len },
        _ => FilterFileError::Io(e),
    })?;
    let computed: [u8; 32] = hasher.finalize().into();
    if computed != stored {
        return Err(FilterFileError::ChecksumMismatch);
    }

    let descriptor = Descriptor {
        seed: u64_at(&header, 38),
        segment_length: u32_at(&header, 46),
        segment_length_mask: u32_at(&header, 50),
        segment_count_length: u32_at(&header, 54),
    };
    check_descriptor(&descriptor, count)?;
    let threshold = u64_at(&header, 12);
    if threshold == 0 {
        return Err(FilterFileError::Inconsistent("threshold 0"));
    }
    let mut source_date = [0u8; 10];
    source_date.copy_from_slice(&header[20..30]);
    if !valid_source_date(&source_date) {
        return Err(FilterFileError::Inconsistent("source date is not YYYY-MM-DD"));
    }
    let key_count = u64_at(&header, 30);
    if key_count > count as u64 {
        return Err(FilterFileError::Inconsistent("more keys than fingerprints"));
    }
    let filter = BinaryFuse16 { descriptor, fingerprints: fingerprints.into_boxed_slice() };
    Ok(BreachFilter::from_checked(filter, threshold, source_date, key_count, stored))
}

/// The lookup indexes `fingerprints[h0]`, `[h1]` and `[h2]`, where `h0 < segment_count_length`
/// and `h1`, `h2` lie in the one and two segments after `h0`'s: it stays in bounds (and its
/// `u32` sums do not overflow) exactly when the segments tile the fingerprints like this.
/// A file that passed the checksum but not this would make every lookup panic.
fn check_descriptor(d: &Descriptor, count: usize) -> Result<(), FilterFileError> {
    let bad = |what| Err(FilterFileError::Inconsistent(what));
    let length = d.segment_length;
    if !length.is_power_of_two() || length > 1 << 18 {
        return bad("segment length is not a power of two up to 2^18");
    }
    if d.segment_length_mask != length - 1 {
        return bad("segment length mask does not match the segment length");
    }
    if d.segment_count_length == 0 || !d.segment_count_length.is_multiple_of(length) {
        return bad("segment count length is not a whole number of segments");
    }
    let needed = length.checked_mul(2).and_then(|two| two.checked_add(d.segment_count_length));
    if needed.and_then(|n| usize::try_from(n).ok()) != Some(count) {
        return bad("fingerprint count does not match the segments");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_dates() {
        for ok in ["2024-02-29", "2000-01-01", "1999-12-31"] {
            assert!(valid_source_date(ok.as_bytes()), "{ok}");
        }
        for bad in ["2023-02-29", "2024-13-01", "2024-00-10", "2024-01-32", "2024-1-01", "24-01-01xx", "2024/01/01", ""]
        {
            assert!(!valid_source_date(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn descriptors_that_would_index_out_of_bounds_are_refused() {
        let d = |segment_length, segment_length_mask, segment_count_length| Descriptor {
            seed: 1,
            segment_length,
            segment_length_mask,
            segment_count_length,
        };
        assert!(check_descriptor(&d(4, 3, 4), 12).is_ok());
        assert!(check_descriptor(&d(4, 3, 8), 12).is_err());
        assert!(check_descriptor(&d(3, 2, 3), 9).is_err());
        assert!(check_descriptor(&d(4, 7, 4), 12).is_err());
        assert!(check_descriptor(&d(4, 3, 6), 14).is_err());
        assert!(check_descriptor(&d(4, 3, 0), 8).is_err());
        assert!(check_descriptor(&d(1 << 18, (1 << 18) - 1, u32::MAX - (1 << 18) + 1), 0).is_err());
    }
}
