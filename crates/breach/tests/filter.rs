//! The filter file: building, writing, loading and every way a file can be refused; and a
//! million hashes through the whole path, for the false-negative and false-positive rates.

use std::fmt::Write as _;
use std::io::Cursor;
use std::time::Instant;

use portcullis_breach::{BreachFilter, BuildError, BuildStats, FilterFileError, build_filter, sha1_of, write_filter};
use portcullis_domain::model::Password;
use portcullis_domain::ports::{BreachedPasswords, Exposure};

fn sha1(text: &str) -> [u8; 20] {
    sha1_of(&Password::new(text))
}

fn hex(sha1: &[u8; 20]) -> String {
    sha1.iter().fold(String::with_capacity(40), |mut s, b| {
        let _ = write!(s, "{b:02X}");
        s
    })
}

fn build(list: &str, threshold: u64) -> Result<(BreachFilter, BuildStats), BuildError> {
    build_filter(Cursor::new(list.as_bytes()), threshold, "2026-11-30")
}

/// A small filter: "password" seen 10 times, "letmein" 3 times, "hunter2" once.
fn small() -> BreachFilter {
    let list = format!(
        "{}:10\r\n{}:3\r\n{}:1\r\n",
        hex(&sha1("password")),
        hex(&sha1("letmein")),
        hex(&sha1("hunter2")).to_lowercase()
    );
    build(&list, 1).expect("builds").0
}

#[tokio::test]
async fn members_are_listed_with_the_threshold() {
    let list = format!("{}:10\n{}:3\n", hex(&sha1("password")), hex(&sha1("letmein")));
    let (filter, stats) = build(&list, 5).unwrap();
    assert_eq!(stats, BuildStats { lines: 2, kept: 1, below_threshold: 1, distinct_keys: 1, bytes: filter.file_len() });
    assert_eq!(filter.threshold(), 5);
    assert_eq!(filter.exposure(&Password::new("password")).await.unwrap(), Exposure::Listed { threshold: 5 });
    assert_eq!(filter.exposure(&Password::new("letmein")).await.unwrap(), Exposure::Unlisted, "below the threshold");
    assert_eq!(filter.exposure(&Password::new("correct horse")).await.unwrap(), Exposure::Unlisted);
}

#[test]
fn bare_lines_blank_lines_and_duplicates() {
    let pw = hex(&sha1("password"));
    let list = format!("\n{pw}\r\n  \n{}\n{pw}:7\n", hex(&sha1("letmein")).to_lowercase());
    let (filter, stats) = build(&list, 1).unwrap();
    assert_eq!((stats.lines, stats.kept, stats.below_threshold, stats.distinct_keys), (5, 3, 0, 2));
    assert!(filter.contains_sha1(&sha1("password")) && filter.contains_sha1(&sha1("letmein")));
    // A bare line counts once: below any threshold above 1.
    let (filter, stats) = build(&list, 2).unwrap();
    assert_eq!((stats.kept, stats.below_threshold, stats.distinct_keys), (1, 2, 1));
    assert!(filter.contains_sha1(&sha1("password")) && !filter.contains_sha1(&sha1("letmein")));
}

#[test]
fn a_bad_line_is_named_by_number() {
    let pw = hex(&sha1("password"));
    for (bad, reason) in [
        ("8846F7EAEE8FB117AD06BDD830B7586C:5", "not a SHA-1"),
        (&format!("{pw}:many") as &str, "count"),
        (&format!("{pw}:"), "count"),
        (&format!("{pw}:-1"), "count"),
        ("<html>", "not a SHA-1"),
    ] {
        let list = format!("{pw}:1\n\n{bad}\n{pw}:2\n");
        match build(&list, 1) {
            Err(error @ BuildError::Line { line: 3, .. }) => {
                let message = error.to_string();
                assert!(message.starts_with("hash list line 3: ") && message.contains(reason), "{message}");
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
    let long = "0".repeat(300);
    assert!(matches!(build(&long, 1), Err(BuildError::Line { line: 1, .. })));
    assert!(matches!(build(&pw, 0), Err(BuildError::Threshold)));
    for date in ["2026-02-30", "30/11/2026", "2026-11-30T00:00:00Z", ""] {
        assert!(matches!(build_filter(Cursor::new(&pw), 1, date), Err(BuildError::SourceDate)), "{date}");
    }
}

#[test]
fn an_empty_list_builds_an_empty_filter() {
    let (filter, stats) = build("", 1).unwrap();
    assert_eq!((stats.lines, stats.distinct_keys), (0, 0));
    let filter = BreachFilter::from_bytes(&filter.to_bytes()).unwrap();
    assert_eq!(filter.key_count(), 0);
    assert!(!filter.contains_sha1(&sha1("password")));
}

#[test]
fn a_file_round_trips() {
    let filter = small();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("breach.filter");
    let written = write_filter(&path, &filter).unwrap();
    assert_eq!(written, std::fs::metadata(&path).unwrap().len());
    assert_eq!(written, filter.file_len());
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["breach.filter"], "no temporary file left behind");

    let loaded = BreachFilter::open(&path).unwrap();
    assert_eq!(loaded.threshold(), 1);
    assert_eq!(loaded.source_date(), "2026-11-30");
    assert_eq!(loaded.key_count(), 3);
    assert_eq!(loaded.checksum_hex(), filter.checksum_hex());
    assert_eq!(loaded.checksum_hex().len(), 64);
    for pw in ["password", "letmein", "hunter2"] {
        assert!(loaded.contains_sha1(&sha1(pw)), "{pw}");
    }
    assert_eq!(loaded.to_bytes(), std::fs::read(&path).unwrap());
    let shown = format!("{loaded:?}");
    assert!(shown.contains("2026-11-30") && shown.contains(&loaded.checksum_hex()), "{shown}");

    // Written again over the old one: replaced whole.
    let (other, _) = build(&format!("{}:4\n", hex(&sha1("dragon"))), 2).unwrap();
    write_filter(&path, &other).unwrap();
    assert_eq!(BreachFilter::open(&path).unwrap().threshold(), 2);
}

#[test]
fn a_build_is_reproducible() {
    // Same list, threshold and date: same bytes. A change of this checksum means xorf's
    // construction or hashing changed, and with it what format version 1 means.
    let a = small();
    let b = small();
    assert_eq!(a.to_bytes(), b.to_bytes());
    assert_eq!(a.checksum_hex(), "faab0c758aa5c61928a054aa161d3d7bb9eed8a0e2786d634721980317d2d699");
}

#[test]
fn a_corrupted_byte_fails_the_checksum() {
    let bytes = small().to_bytes();
    for at in [12, 25, 30, 38, 70, bytes.len() - 40, bytes.len() - 1] {
        let mut bad = bytes.clone();
        bad[at] ^= 0x01;
        match BreachFilter::from_bytes(&bad) {
            Err(FilterFileError::ChecksumMismatch) => {}
            other => panic!("byte {at}: {other:?}"),
        }
    }
    assert_eq!(
        FilterFileError::ChecksumMismatch.to_string(),
        "breach filter checksum mismatch: the file is corrupted or was altered"
    );
}

#[test]
fn a_truncated_file_says_so() {
    let bytes = small().to_bytes();
    for len in [bytes.len() - 1, bytes.len() - 33, 70, 66, 40, 12, 9, 4, 0] {
        match BreachFilter::from_bytes(&bytes[..len]) {
            Err(error @ FilterFileError::Truncated { .. }) => assert!(error.to_string().contains("truncated")),
            other => panic!("{len} bytes: {other:?}"),
        }
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(BreachFilter::from_bytes(&longer), Err(FilterFileError::TrailingData { .. })));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.filter");
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    assert!(matches!(BreachFilter::open(&path), Err(FilterFileError::Truncated { .. })));
    assert!(matches!(BreachFilter::open(dir.path().join("missing")), Err(FilterFileError::Io(_))));
}

#[test]
fn another_file_or_version_is_refused() {
    let bytes = small().to_bytes();
    for other in [&b"SQLite format 3\0"[..], b"PK\x03\x04", b"\x7fELF", b"PCBREACX"] {
        let mut bad = bytes.clone();
        bad[..other.len()].copy_from_slice(other);
        match BreachFilter::from_bytes(&bad) {
            Err(error @ FilterFileError::NotAFilter) => {
                assert!(error.to_string().starts_with("not a Portcullis breach filter"));
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(matches!(BreachFilter::from_bytes(b"hello"), Err(FilterFileError::NotAFilter)));
    let mut future = bytes.clone();
    future[8..12].copy_from_slice(&2u32.to_le_bytes());
    match BreachFilter::from_bytes(&future) {
        Err(error @ FilterFileError::UnknownVersion(2)) => assert!(error.to_string().contains("version 2")),
        other => panic!("{other:?}"),
    }
}

/// SHA-1s of `{label}-{i}` for i in 0..n (hashed directly: `Password::new`'s NFKC pass,
/// unoptimised in a test build, would take most of the test's time).
fn generated(label: &str, n: usize) -> Vec<[u8; 20]> {
    use sha1::Digest as _;
    let mut text = String::new();
    (0..n)
        .map(|i| {
            text.clear();
            let _ = write!(text, "{label}-{i}");
            sha1::Sha1::digest(text.as_bytes()).into()
        })
        .collect()
}

/// `40HEX:COUNT\n` lines, quickly.
fn hash_list(hashes: &[[u8; 20]]) -> Vec<u8> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut list = Vec::with_capacity(hashes.len() * 44);
    for (i, sha1) in hashes.iter().enumerate() {
        for b in sha1 {
            list.push(HEX[usize::from(b >> 4)]);
            list.push(HEX[usize::from(b & 15)]);
        }
        list.push(b':');
        // Counts 1 to 50, so the threshold's comparison runs too.
        let _ = write!(Utf8(&mut list), "{}", 1 + i % 50);
        list.push(b'\n');
    }
    list
}

struct Utf8<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Utf8<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

#[test]
fn a_million_hashes_no_false_negative_and_few_false_positives() {
    const N: usize = 1_000_000;
    let started = Instant::now();
    let members = generated("pw", N);
    let list = hash_list(&members);
    let generated_in = started.elapsed();

    let (filter, stats) = build_filter(Cursor::new(list.as_slice()), 1, "2026-11-30").unwrap();
    drop(list);
    assert_eq!((stats.lines, stats.kept, stats.distinct_keys), (N as u64, N as u64, N as u64));
    let filter = BreachFilter::from_bytes(&filter.to_bytes()).unwrap();
    let built_in = started.elapsed() - generated_in;

    let missed = members.iter().filter(|sha1| !filter.contains_sha1(sha1)).count();
    assert_eq!(missed, 0, "false negatives");
    let others = generated("other", N);
    let false_positives = others.iter().filter(|sha1| filter.contains_sha1(sha1)).count();
    let rate = false_positives as f64 / N as f64;
    println!(
        "1,000,000 hashes: {} bytes ({:.2} bytes per hash); false positives {false_positives} of {N} ({:.4}%); \
         generated in {:.2?}, built and reloaded in {built_in:.2?}, all in {:.2?}",
        stats.bytes,
        stats.bytes as f64 / N as f64,
        rate * 100.0,
        generated_in,
        started.elapsed()
    );
    assert!(false_positives <= N / 10_000, "false-positive rate {:.4}% over 0.01%", rate * 100.0);
}
