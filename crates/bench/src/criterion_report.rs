//! The criterion micro-benchmarks' estimates (run by `make bench` just before this binary),
//! read from `target/criterion` into a Markdown table.

use std::path::Path;

/// Benchmarks reported, as (criterion's directory, what it measures). Criterion turns a `/`
/// inside a function name into `_`.
const ROWS: &[(&str, &str)] = &[
    (
        "argon2id/hash_argon2-rust",
        "Argon2id hash, default parameters (m=19456 KiB, t=2, p=1), through the pool, `argon2-rust` (default engine)",
    ),
    ("argon2id/verify_argon2-rust", "Argon2id verify, default parameters, through the pool, `argon2-rust`"),
    ("argon2id/hash_rustcrypto", "Argon2id hash, default parameters, through the pool, RustCrypto `argon2`"),
    ("argon2id/verify_rustcrypto", "Argon2id verify, default parameters, through the pool, RustCrypto `argon2`"),
    ("paseto_v4_local/issue", "access token issue (PASETO v4.local)"),
    ("paseto_v4_local/verify", "access token check"),
    ("enrichment/geo_lookup_hit", "GeoIP City lookup + decode (fixture database, hit)"),
    ("enrichment/geo_lookup_miss", "GeoIP lookup, address outside the database"),
    ("enrichment/user_agent_cold", "user-agent parse, uncached (12 realistic UAs)"),
    ("enrichment/user_agent_cached", "user-agent parse through the cache"),
    ("enrichment_start_up/user_agent_rules_build", "user-agent rules: build the parser (once, at start)"),
    ("login_history_sqlite_1000_entries_limit_50", "login-history query on SQLite (1,000 entries, limit 50)"),
];

/// The section, or a line saying why there is none.
pub fn section(criterion_dir: &Path) -> String {
    let mut out = String::from(
        "## Micro-benchmarks (criterion)\n\n`cargo bench -p portcullis-bench --bench micro`; median of criterion's samples, \
         with its 95% confidence interval.\n\n| operation | median | 95% interval |\n|---|---|---|\n",
    );
    for (id, label) in ROWS {
        match median(&criterion_dir.join(id).join("new").join("estimates.json")) {
            Ok((point, low, high)) => {
                out.push_str(&format!("| {label} | {} | {} – {} |\n", human(point), human(low), human(high)))
            }
            Err(e) => out.push_str(&format!("| {label} | not measured: {e} | |\n")),
        }
    }
    out
}

/// `median.point_estimate` and its confidence bounds, in nanoseconds.
fn median(path: &Path) -> Result<(f64, f64, f64), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let m = &json["median"];
    let get = |v: &serde_json::Value| v.as_f64().ok_or_else(|| "malformed estimates".to_owned());
    Ok((
        get(&m["point_estimate"])?,
        get(&m["confidence_interval"]["lower_bound"])?,
        get(&m["confidence_interval"]["upper_bound"])?,
    ))
}

/// Nanoseconds in the unit that reads best.
fn human(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_criterion_estimates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("argon2id/hash_argon2-rust/new");
        std::fs::create_dir_all(&path).unwrap();
        std::fs::write(
            path.join("estimates.json"),
            r#"{"median":{"confidence_interval":{"confidence_level":0.95,"lower_bound":19000000.0,"upper_bound":21000000.0},"point_estimate":20123456.0,"standard_error":1.0}}"#,
        )
        .unwrap();
        let text = section(dir.path());
        assert!(text.contains("| Argon2id hash, default parameters (m=19456 KiB, t=2, p=1), through the pool, `argon2-rust` (default engine) | 20.12 ms | 19.00 ms – 21.00 ms |"), "{text}");
        assert!(text.contains("| access token check | not measured:"), "{text}");
        assert_eq!(human(850.0), "850 ns");
        assert_eq!(human(1_500.0), "1.50 µs");
    }
}
