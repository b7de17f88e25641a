//! `portcullis-bench breach-filter`: the offline breach filter (`portcullis-breach`) built from
//! a million generated hashes: build time, file size, load time, lookup time and the
//! measured false-positive rate.

use std::fmt::Write as _;
use std::hint::black_box;
use std::io::Cursor;
use std::time::{Duration, Instant};

use portcullis_breach::{BreachFilter, build_filter, sha1_of, write_filter};
use portcullis_domain::model::Password;

/// Hashes in the filter, and as many others for the misses.
const N: usize = 1_000_000;
/// Passes over the N keys per lookup figure; the median pass is reported.
const PASSES: usize = 5;

/// The SHA-1s of `{label}-{i}` for i in 0..n.
fn generated(label: &str, n: usize) -> Vec<[u8; 20]> {
    (0..n).map(|i| sha1_of(&Password::new(&format!("{label}-{i}")))).collect()
}

/// The hash list as HIBP's downloader writes it: `40HEX:COUNT`, CRLF.
fn hash_list(hashes: &[[u8; 20]]) -> Vec<u8> {
    let mut list = String::with_capacity(hashes.len() * 46);
    for (i, sha1) in hashes.iter().enumerate() {
        for b in sha1 {
            let _ = write!(list, "{b:02X}");
        }
        let _ = write!(list, ":{}\r\n", 1 + i % 100);
    }
    list.into_bytes()
}

/// Nanoseconds per lookup: the median of [`PASSES`] timed passes over `keys`, and the
/// members found in the last pass.
fn lookups(filter: &BreachFilter, keys: &[[u8; 20]]) -> (f64, usize) {
    let mut times = Vec::with_capacity(PASSES);
    let mut found = 0;
    for _ in 0..PASSES {
        let started = Instant::now();
        found = keys.iter().filter(|k| filter.contains_sha1(black_box(k))).count();
        times.push(started.elapsed());
    }
    times.sort();
    (times[PASSES / 2].as_nanos() as f64 / keys.len() as f64, found)
}

/// `VmHWM` (peak resident memory) in KiB, after resetting it when `reset`.
fn peak_kib(reset: bool) -> Option<u64> {
    if reset {
        // "5" resets the peak to the current resident size (Linux 4.0 and later).
        std::fs::write("/proc/self/clear_refs", "5").ok()?;
    }
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `1234567` → `1,234,567`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1e3)
}

/// The Markdown subsection.
///
/// # Errors
/// A failed build, write or load, as text.
pub(crate) fn section() -> Result<String, String> {
    let members = generated("pw", N);
    let others = generated("other", N);
    let list = hash_list(&members);
    let list_bytes = list.len();

    let before = peak_kib(true);
    let cpu_before = crate::wrk::cpu_secs(std::process::id());
    let started = Instant::now();
    let (filter, stats) = build_filter(Cursor::new(&list), 1, "2026-12-04").map_err(|e| e.to_string())?;
    let build_wall = started.elapsed();
    let build_cpu = crate::wrk::cpu_secs(std::process::id()) - cpu_before;
    let build_peak_mib = match (before, peak_kib(false)) {
        (Some(b), Some(a)) => format!("{:.0} MiB", a.saturating_sub(b) as f64 / 1024.0),
        _ => "not measured".to_owned(),
    };
    drop(list);

    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = dir.path().join("breach.filter");
    let started = Instant::now();
    let bytes = write_filter(&path, &filter).map_err(|e| e.to_string())?;
    let write_wall = started.elapsed();
    drop(filter);
    let started = Instant::now();
    let filter = BreachFilter::open(&path).map_err(|e| e.to_string())?;
    let load_wall = started.elapsed();

    let (hit_ns, hits) = lookups(&filter, &members);
    if hits != N {
        return Err(format!("{} false negatives", N - hits));
    }
    let (miss_ns, false_positives) = lookups(&filter, &others);
    let started = Instant::now();
    for i in 0..100_000 {
        black_box(sha1_of(&Password::new(black_box(&format!("correct horse {i}")))));
    }
    let sha1_ns = started.elapsed().as_nanos() as f64 / 100_000.0;

    let per_hash = bytes as f64 / N as f64;
    let (n, list_bytes) = (thousands(N), thousands(list_bytes));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## Breach filter (offline breached-password check)\n\n\
         `portcullis-bench breach-filter`: a `BinaryFuse16` filter file (crate `portcullis-breach`) built \
         from {n} generated SHA-1s (of `pw-0`, `pw-1`, …, as `40HEX:COUNT` lines, {list_bytes} bytes), \
         written, loaded back, then looked up: the {n} members (hits) and {n} other generated hashes \
         (misses, every hit among them a false positive). Build and load times are wall clock on one \
         thread, build CPU from `/proc/self/stat`; lookup times are wall clock (`std::time::Instant`) \
         over {n} `contains_sha1` calls on one thread, the median of {PASSES} passes, SHA-1 excluded. \
         The filter of a million (2.3 MB) stays in the CPU's caches during these passes; one of HIBP's \
         full list (about 2 GB) would cost each lookup up to three cache misses instead.\n\n\
         | measure | value |\n|---|---|"
    );
    let rows = [
        ("build (parse, sort, construct, checksum)", format!("{} wall, {:.2} s CPU", ms(build_wall), build_cpu)),
        ("build's peak memory above the input list", build_peak_mib),
        (
            "file size",
            format!("{} bytes: {per_hash:.2} bytes per hash, {per_hash:.2} MB per million", thousands(bytes as usize)),
        ),
        ("write (temporary file, fsync, rename)", ms(write_wall)),
        ("load (`BreachFilter::open`, checksum verified)", ms(load_wall)),
        ("lookup, hit", format!("{hit_ns:.0} ns")),
        ("lookup, miss", format!("{miss_ns:.0} ns")),
        ("`sha1_of(&Password)` (NFKC + SHA-1, 16-20 characters), for scale", format!("{sha1_ns:.0} ns")),
        ("false negatives", "0".to_owned()),
        (
            "false positives",
            format!(
                "{false_positives} of {n} ({:.4}%; the filter's expected rate is 2^-16 = 0.0015%)",
                false_positives as f64 * 100.0 / N as f64
            ),
        ),
    ];
    for (what, value) in rows {
        let _ = writeln!(out, "| {what} | {value} |");
    }
    let _ = writeln!(
        out,
        "\nThe build read {} lines and kept {} distinct keys. Serving needs the file's size in memory.",
        thousands(stats.lines as usize),
        thousands(stats.distinct_keys as usize)
    );
    Ok(out)
}
