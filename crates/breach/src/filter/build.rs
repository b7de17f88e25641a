//! Building a filter from the operator's hash list, and writing it to a file atomically.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufWriter, Read as _, Write as _};
use std::path::Path;

use xorf::BinaryFuse16;

use super::format::{self, valid_source_date};
use super::{BreachFilter, key_of};
use crate::hash::parse_sha1_hex;
use crate::range::parse_count;

/// Longest line taken (a SHA-1, a colon and a count fit in 61 bytes): a file with no line
/// breaks (a binary given by mistake) is refused at its first line, not read whole.
const MAX_LINE: usize = 256;

/// Most distinct keys one filter takes: xorf sizes its arrays in `u32`, with 13% headroom.
pub const MAX_KEYS: u64 = 3_500_000_000;

/// Why no filter was built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The hash list could not be read.
    #[error("cannot read the hash list: {0}")]
    Io(#[from] io::Error),
    /// A line that is neither `40HEX:COUNT` nor `40HEX` (named by number only).
    #[error("hash list line {line}: {reason}")]
    Line {
        /// 1-based line number.
        line: u64,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A threshold of 0 (every member must have been seen at least once).
    #[error("the threshold must be at least 1")]
    Threshold,
    /// A source date that is not a calendar date written `YYYY-MM-DD`.
    #[error("the source date must be a calendar date written YYYY-MM-DD")]
    SourceDate,
    /// More distinct hashes than one filter takes ([`MAX_KEYS`]).
    #[error("{keys} distinct hashes: more than one filter takes ({MAX_KEYS}); raise the threshold")]
    TooManyKeys {
        /// Distinct keys found.
        keys: u64,
    },
    /// xorf could not build the filter (it retries internally; not expected with distinct keys).
    #[error("the filter could not be built: {0}")]
    Filter(&'static str),
}

/// What a build read and kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BuildStats {
    /// Lines read, blank ones included.
    pub lines: u64,
    /// Hash lines whose count reached the threshold.
    pub kept: u64,
    /// Hash lines left out for a count below the threshold.
    pub below_threshold: u64,
    /// Distinct keys among the kept hashes (the filter's [`key_count`](BreachFilter::key_count)).
    pub distinct_keys: u64,
    /// Size of the filter file in bytes.
    pub bytes: u64,
}

/// Builds a filter from a hash list: one SHA-1 per line as HIBP's downloader writes it,
/// `40HEX:COUNT` (either case, CRLF or LF), or a bare `40HEX` (count 1). Blank lines are
/// skipped; hashes seen fewer than `threshold` times are left out. `source_date`
/// (`YYYY-MM-DD`) records when the list was taken.
///
/// Memory: 8 bytes per kept hash for the keys, then xorf's construction arrays (about 26
/// bytes per key) while the filter is built, so some 30 to 34 bytes per kept hash at the
/// peak (about 30 GB for HIBP's full list of about 900 million at threshold 1); the finished
/// filter is about 2.26 bytes per key. Not streamed.
///
/// # Errors
/// [`BuildError`]: an unreadable input, a bad line (by number), a threshold of 0, a bad
/// date, too many keys.
pub fn build_filter(
    mut input: impl BufRead,
    threshold: u64,
    source_date: &str,
) -> Result<(BreachFilter, BuildStats), BuildError> {
    if threshold == 0 {
        return Err(BuildError::Threshold);
    }
    let date: [u8; 10] = source_date.as_bytes().try_into().map_err(|_| BuildError::SourceDate)?;
    if !valid_source_date(&date) {
        return Err(BuildError::SourceDate);
    }
    let mut stats = BuildStats::default();
    let mut keys: Vec<u64> = Vec::new();
    let mut buf = Vec::with_capacity(MAX_LINE + 1);
    loop {
        buf.clear();
        let read = (&mut input).take(MAX_LINE as u64 + 1).read_until(b'\n', &mut buf)?;
        if read == 0 {
            break;
        }
        stats.lines += 1;
        if buf.len() > MAX_LINE {
            return Err(BuildError::Line { line: stats.lines, reason: "longer than 256 bytes" });
        }
        let line = buf.trim_ascii();
        if line.is_empty() {
            continue;
        }
        let (sha1, count) = parse_hash_line(line).map_err(|reason| BuildError::Line { line: stats.lines, reason })?;
        if count >= threshold {
            keys.push(key_of(&sha1));
            stats.kept += 1;
        } else {
            stats.below_threshold += 1;
        }
    }
    // xorf needs distinct keys (two hashes may share their first 8 bytes, and a list may
    // repeat a line); sorting in place costs no second copy.
    keys.sort_unstable();
    keys.dedup();
    keys.shrink_to_fit();
    stats.distinct_keys = keys.len() as u64;
    if stats.distinct_keys > MAX_KEYS {
        return Err(BuildError::TooManyKeys { keys: stats.distinct_keys });
    }
    let filter = BinaryFuse16::try_from(&keys).map_err(BuildError::Filter)?;
    drop(keys);
    let checksum = format::encode(&filter, threshold, &date, stats.distinct_keys, &mut io::sink())?;
    let filter = BreachFilter::from_checked(filter, threshold, date, stats.distinct_keys, checksum);
    stats.bytes = filter.file_len();
    Ok((filter, stats))
}

/// `40HEX` or `40HEX:COUNT` → (SHA-1, count).
fn parse_hash_line(line: &[u8]) -> Result<([u8; 20], u64), &'static str> {
    let (hex, count) = match line.iter().position(|&b| b == b':') {
        Some(colon) => {
            let count = parse_count(&line[colon + 1..]).ok_or("the count after ':' is not a whole number")?;
            (&line[..colon], count)
        }
        None => (line, 1),
    };
    let sha1 = parse_sha1_hex(hex).ok_or("not a SHA-1 (40 hex digits), optionally followed by ':COUNT'")?;
    Ok((sha1, count))
}

/// Writes `filter` to `path` atomically: to a temporary file beside it, synced, then renamed
/// over `path`, so a server starting meanwhile reads the old file or the new one, never half
/// of one. Returns the bytes written.
///
/// # Errors
/// The file system's; the temporary file is removed then.
pub fn write_filter(path: impl AsRef<Path>, filter: &BreachFilter) -> io::Result<u64> {
    let path = path.as_ref();
    let name = path.file_name().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".tmp-{}", std::process::id()));
    let temp = path.with_file_name(temp_name);
    let written = (|| {
        let file = OpenOptions::new().write(true).create_new(true).open(&temp)?;
        let mut out = BufWriter::with_capacity(256 * 1024, file);
        filter.write_to(&mut out)?;
        out.flush()?;
        let file: File = out.into_inner().map_err(io::IntoInnerError::into_error)?;
        file.sync_all()?;
        fs::rename(&temp, path)?;
        Ok(filter.file_len())
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    } else if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // The rename is durable once the directory is; best effort (not every platform
        // opens directories).
        let _ = File::open(dir).and_then(|d| d.sync_all());
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_lines() {
        let sha1 = parse_sha1_hex(b"21BD12DC183F740EE76F27B78EB39C8AD972A757").unwrap();
        assert_eq!(parse_hash_line(b"21BD12DC183F740EE76F27B78EB39C8AD972A757:52579"), Ok((sha1, 52579)));
        assert_eq!(parse_hash_line(b"21bd12dc183f740ee76f27b78eb39c8ad972a757"), Ok((sha1, 1)));
        assert!(parse_hash_line(b"21BD12DC183F740EE76F27B78EB39C8AD972A757:").is_err());
        assert!(parse_hash_line(b"21BD12DC183F740EE76F27B78EB39C8AD972A757:x").is_err());
        assert!(parse_hash_line(b"8846F7EAEE8FB117AD06BDD830B7586C:5").is_err(), "an NTLM hash");
        assert!(parse_hash_line(b"21BD12DC183F740EE76F27B78EB39C8AD972A757 5").is_err());
    }
}
