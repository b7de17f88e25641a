//! `make profile`: where the server spends its CPU on an authenticated read, a history page,
//! a login and a registration, per store. The profiling build (release plus line tables) runs as its own
//! process under wrk while `perf record` samples it; the report lists the shares of the parts
//! an authenticated request should consist of (one PASETO check, one session + account
//! look-up) and of everything else, so anything new shows up.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::wrk::{Seeded, get_script, register_script, run_wrk_now, seeded};

/// Seconds of sampling per scenario (wrk runs a little longer on both sides).
const SAMPLE_SECS: u64 = 6;
/// Connections wrk keeps open.
const CONNECTIONS: usize = 64;

/// Named stack frames whose inclusive share of the samples is reported.
const PARTS: &[(&str, &str)] = &[
    ("PasetoIssuer", "PASETO (`PasetoIssuer`: the check; at login, the issue)"),
    ("session_with_user", "session + account look-up (`session_with_user`)"),
    ("audit_page", "history page query (`audit_page`)"),
    ("walk_ast", "diesel building SQL text"),
    ("sqlite3_step", "SQLite executing (`sqlite3_step`)"),
    ("sqlite3Reprepare", "SQLite re-preparing a cached statement"),
    ("spawn_blocking", "hand-off to the blocking pool (SQLite)"),
    ("drive_connection", "PostgreSQL connection I/O"),
    ("argon2::", "Argon2id (RustCrypto)"),
    ("argon2_rust::", "Argon2id (`argon2-rust`)"),
    ("zxcvbn", "password strength (`zxcvbn`)"),
    ("deliver_mail", "mail outbox worker (`deliver_mail`)"),
    ("serde_json", "JSON"),
];

/// Samples of one `perf record` file: how many there are, and how many have each part.
fn shares(data: &Path) -> Result<(usize, Vec<usize>), String> {
    let out = Command::new("perf")
        .args(["script", "-i"])
        .arg(data)
        .output()
        .map_err(|e| format!("running perf script: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut total = 0;
    let mut hits = vec![0; PARTS.len()];
    for sample in text.split("\n\n").filter(|s| !s.trim().is_empty()) {
        total += 1;
        for (i, (frame, _)) in PARTS.iter().enumerate() {
            if sample.contains(frame) {
                hits[i] += 1;
            }
        }
    }
    Ok((total, hits))
}

/// The first `rows` lines of `perf report --sort <key>` without call graphs, the columns
/// squeezed to single spaces.
fn perf_rows(data: &Path, key: &str, rows: usize) -> Result<String, String> {
    let out = Command::new("perf")
        .args(["report", "--no-children", "--sort", key, "--stdio", "-g", "none", "--percent-limit", "0.5", "-i"])
        .arg(data)
        .output()
        .map_err(|e| format!("running perf report: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .lines()
        .filter(|l| l.contains('%') && !l.starts_with('#'))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .take(rows)
        .collect::<Vec<_>>()
        .join("\n"))
}

/// One scenario: wrk in a thread, `perf record` on the server meanwhile.
fn profile_one(
    seeded: &Seeded,
    out_dir: &Path,
    wrk_dir: &Path,
    name: &str,
    url: &str,
    script: &str,
) -> Result<(f64, std::path::PathBuf), String> {
    let data = out_dir.join(format!("{name}.data"));
    let (url, script, dir) = (url.to_owned(), script.to_owned(), wrk_dir.to_owned());
    let load = std::thread::spawn(move || run_wrk_now(&dir, &url, &script, CONNECTIONS, None));
    std::thread::sleep(Duration::from_secs(1));
    let status = Command::new("perf")
        .args(["record", "-q", "-F", "299", "--call-graph", "dwarf,8192", "-p", &seeded.server.pid().to_string(), "-o"])
        .arg(&data)
        .args(["--", "sleep", &SAMPLE_SECS.to_string()])
        .status()
        .map_err(|e| format!("running perf record (`make profile` installs linux-perf): {e}"))?;
    if !status.success() {
        return Err(format!("perf record failed ({status}); is kernel.perf_event_paranoid above 2?"));
    }
    let run = load.join().map_err(|_| "the wrk thread panicked".to_owned())??;
    Ok((run.requests_per_sec, data))
}

/// Profiles every scenario on every store in `stores`; returns the Markdown report. The
/// `perf` data files stay in `out_dir` for `perf report -i`.
pub async fn report(
    bin: &Path,
    dir: &Path,
    out_dir: &Path,
    stores: &[(&'static str, String)],
) -> Result<String, String> {
    let mut out = format!(
        "# Profile\n\nWritten by `make profile`: `{}` under wrk ({CONNECTIONS} connections) with `perf record -F 299 \
         --call-graph dwarf` on the server for {SAMPLE_SECS} s per scenario. Shares are of the server's samples that \
         have the part anywhere on their stack (so they overlap). Data files: `{}`.\n",
        bin.display(),
        out_dir.display()
    );
    std::fs::create_dir_all(out_dir).map_err(|e| e.to_string())?;
    for (store, url) in stores {
        let seeded = seeded(bin, dir, store, url).await?;
        let base = seeded.server.base.clone();
        let me = get_script(&seeded.token);
        let scenarios = [
            ("me", "GET /users/me", format!("{base}/api/v1/users/me"), me.clone()),
            ("history", "GET /auth/login-history?limit=50", format!("{base}/api/v1/auth/login-history?limit=50"), me),
            ("login", "POST /auth/login", seeded.login_url.clone(), seeded.login.clone()),
            (
                "register",
                "POST /auth/register (new addresses)",
                format!("{base}/api/v1/auth/register"),
                register_script(),
            ),
        ];
        for (short, label, url, script) in scenarios {
            crate::wrk::drained(&base).await?;
            let file = format!("{}-{short}", store.split_whitespace().next().unwrap_or("store").to_lowercase());
            let (rps, data) = profile_one(&seeded, out_dir, dir, &file, &url, &script)?;
            let (total, hits) = shares(&data)?;
            let _ = writeln!(out, "\n## {store}: {label}\n\n{rps:.0} requests/s while sampled; {total} samples.\n");
            let _ = writeln!(out, "| part | share of samples |\n|---|---|");
            for ((_, name), n) in PARTS.iter().zip(hits) {
                if n > 0 {
                    let _ = writeln!(out, "| {name} | {:.1}% |", 100.0 * n as f64 / total.max(1) as f64);
                }
            }
            let _ = writeln!(out, "\nMost self time:\n\n```\n{}\n```", perf_rows(&data, "symbol", 10)?);
            // Thread names: `argon2-N` hash, `actix-rt|system` serve, `tokio-rt-worker` is
            // SQLite's blocking pool, `portcullis` the main thread, where the background workers
            // (mail among them) run.
            let _ = writeln!(out, "\nBy thread:\n\n```\n{}\n```", perf_rows(&data, "comm", 8)?);
        }
    }
    Ok(out)
}
