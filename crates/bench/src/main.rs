#![doc = include_str!("../README.md")]

mod criterion_report;
mod load;
mod login;
mod micro;
mod seed;
mod wrk;

use std::time::Duration;

use portcullis_server::{Application, Settings};
use portcullis_store_diesel::test_db::TestDatabase;

/// Users whose history is read; each has [`ENTRIES_PER_USER`] audit entries.
const USERS: usize = 16;
/// Audit entries per user (the figure).
const ENTRIES_PER_USER: usize = 1_000;
/// Concurrent HTTP connections (the figure).
const CONNECTIONS: usize = 64;
/// Requests per backend, after the warm-up.
const REQUESTS: usize = 20_000;
/// Requests before measuring.
const WARM_UP: usize = 1_000;

#[actix_web::main]
async fn main() {
    // First, before any server compiles the user-agent rules: their build time is only
    // measurable once per process.
    let enrichment = match micro::enrichment_costs() {
        Ok(section) => section,
        Err(e) => return eprintln!("bench: enrichment: {e}"),
    };
    let mut sections = vec![criterion_report::section(std::path::Path::new("target/criterion"))];
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => return eprintln!("bench: temp dir: {e}"),
    };
    let sqlite_url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let postgres = TestDatabase::create().await;
    let mut runs = vec![("SQLite (file, WAL)", sqlite_url)];
    match &postgres {
        Some(db) => runs.push(("PostgreSQL (loopback)", db.url().to_owned())),
        None => sections.push("PostgreSQL: not measured (no server answered at TEST_DATABASE_URL).\n".to_owned()),
    }
    // The release binary as its own process, driven by wrk (issue 6's figures).
    let wrk_dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => return eprintln!("bench: temp dir: {e}"),
    };
    let mut wrk_stores = vec![("SQLite (file, WAL)", format!("sqlite://{}", wrk_dir.path().join("wrk.db").display()))];
    let wrk_postgres = TestDatabase::create().await;
    if let Some(db) = &wrk_postgres {
        wrk_stores.push(("PostgreSQL (loopback)", db.url().to_owned()));
    }
    match wrk::server_binary() {
        Ok(bin) => match wrk::section(&bin, wrk_dir.path(), &wrk_stores).await {
            Ok(section) => sections.push(section),
            Err(e) => {
                eprintln!("bench: wrk: {e}");
                std::process::exit(1);
            }
        },
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::exit(1);
        }
    }
    sections.push(load::machine_header(CONNECTIONS, USERS, ENTRIES_PER_USER, REQUESTS));
    let mut rows = Vec::new();
    for (name, url) in runs {
        match run(name, &url, dir.path()).await {
            Ok(report) => rows.push(report),
            Err(e) => {
                eprintln!("bench: {name}: {e}");
                std::process::exit(1);
            }
        }
    }
    sections.push(load::table(&rows));
    sections.push(enrichment);
    match login::with_and_without_enrichment(dir.path()).await {
        Ok(section) => sections.push(section),
        Err(e) => return eprintln!("bench: login: {e}"),
    }
    println!("{}", sections.join("\n"));
}

async fn run(name: &'static str, url: &str, dir: &std::path::Path) -> Result<load::Report, String> {
    let mut s = Settings::default();
    s.server.addr = "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?;
    s.database.url = url.to_owned();
    s.database.max_connections = 16;
    s.mailer.transport = "log".to_owned();
    s.tokens.key_file = dir.join("token.key");
    s.tokens.hash_key_file = dir.join("hash.key");
    s.log.filter = "warn".to_owned();
    // The benchmark is about reads; lift the per-IP limit that would stop one client.
    s.limits.requests_per_ip_per_minute = u32::MAX;
    let app = Application::build(&s).await.map_err(|e| e.to_string())?;
    let base = format!("http://127.0.0.1:{}", app.port());
    actix_web::rt::spawn(app.run_until_stopped());
    let tokens = seed::users_with_history(&base, &s, USERS, ENTRIES_PER_USER).await?;
    let paths: Vec<(String, String)> =
        tokens.into_iter().map(|t| ("/api/v1/auth/login-history?limit=50".to_owned(), t)).collect();
    load::drive(&base, &paths, CONNECTIONS, WARM_UP).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let report = load::drive(&base, &paths, CONNECTIONS, REQUESTS).await?;
    Ok(report.named(name))
}
