#![doc = include_str!("../README.md")]

mod breach_filter;
mod criterion_report;
mod login;
mod pin;
mod profile;
mod seed;
mod soak;
mod webhooks;
mod wrk;

use portcullis_store_diesel::test_db::TestDatabase;

/// The stores a run measures: a SQLite file in a temporary directory, and a fresh
/// PostgreSQL database when a server answers at `TEST_DATABASE_URL` (dropped with this).
struct Stores {
    dir: tempfile::TempDir,
    list: Vec<(&'static str, String)>,
    postgres: Option<TestDatabase>,
}

impl Stores {
    /// The stores, the SQLite one in the file `sqlite_file` of a new temporary directory.
    async fn new(sqlite_file: &str) -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| fail("temp dir", e));
        let mut list = vec![("SQLite (file, WAL)", format!("sqlite://{}", dir.path().join(sqlite_file).display()))];
        let postgres = TestDatabase::create().await;
        if let Some(db) = &postgres {
            list.push(("PostgreSQL (loopback)", db.url().to_owned()));
        }
        Self { dir, list, postgres }
    }
}

/// Reports `error` in `what` and exits with status 1.
fn fail(what: &str, error: impl std::fmt::Display) -> ! {
    eprintln!("portcullis-bench: {what}: {error}");
    std::process::exit(1)
}

#[actix_web::main]
async fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("profile") => return profile_main().await,
        Some("own-core") => return own_core_main().await,
        Some("soak") => return soak_main().await,
        Some("webhooks") => return webhooks_main().await,
        // The offline breach filter: build, size, load and lookup figures (no server).
        Some("breach-filter") => {
            return println!("{}", breach_filter::section().unwrap_or_else(|e| fail("breach filter", e)));
        }
        // The micro-benchmark table alone, from the estimates criterion left in target/.
        Some("micro") => return println!("{}", criterion_report::section(std::path::Path::new("target/criterion"))),
        _ => {}
    }
    let mut sections = vec![criterion_report::section(std::path::Path::new("target/criterion"))];
    // The release binary as its own process on each store, driven by wrk (issue 6's figures).
    let stores = Stores::new("wrk.db").await;
    if stores.postgres.is_none() {
        sections.push("PostgreSQL: not measured (no server answered at TEST_DATABASE_URL).\n".to_owned());
    }
    let bin = wrk::server_binary().unwrap_or_else(|e| fail("server binary", e));
    sections.push(wrk::section(&bin, stores.dir.path(), &stores.list).await.unwrap_or_else(|e| fail("wrk", e)));
    sections.push(login::with_and_without_enrichment(stores.dir.path()).await.unwrap_or_else(|e| fail("login", e)));
    println!("{}", sections.join("\n"));
}

/// `portcullis-bench profile` (`make profile`): the perf report of [`profile::report`].
async fn profile_main() {
    let stores = Stores::new("profile.db").await;
    let bin = wrk::server_binary().unwrap_or_else(|e| fail("server binary", e));
    let out = std::path::Path::new("target/profile");
    let report =
        profile::report(&bin, stores.dir.path(), out, &stores.list).await.unwrap_or_else(|e| fail("profile", e));
    println!("{report}");
}

/// `portcullis-bench own-core`: only the login runs with the database on its own core, on
/// freshly seeded stores (a quicker check than the whole of `make bench`).
async fn own_core_main() {
    let stores = Stores::new("own.db").await;
    let bin = wrk::server_binary().unwrap_or_else(|e| fail("server binary", e));
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    for (name, url) in &stores.list {
        drop(wrk::seeded(&bin, stores.dir.path(), name, url).await.unwrap_or_else(|e| fail(name, e)));
        let section = wrk::own_core_logins(&bin, stores.dir.path(), name, url, cores).await;
        println!("### {name}\n{}", section.unwrap_or_else(|e| fail(name, e)));
    }
}

/// `portcullis-bench webhooks`: only the logins with a hung webhook receiver against none,
/// on freshly seeded stores (the subsection `make bench` writes under each store).
async fn webhooks_main() {
    let stores = Stores::new("webhooks.db").await;
    let bin = wrk::server_binary().unwrap_or_else(|e| fail("server binary", e));
    for (name, url) in &stores.list {
        let seeded = wrk::seeded(&bin, stores.dir.path(), name, url)
            .await
            .unwrap_or_else(|e| fail(&format!("{name}: seeding"), e));
        let section =
            webhooks::hung_receiver(&seeded.server, stores.dir.path(), url, &seeded.login_url, &seeded.login).await;
        println!(
            "### {name}
{}",
            section.unwrap_or_else(|e| fail(name, e))
        );
    }
}

/// `portcullis-bench soak` (`make soak`): [`soak::run`] on each store for `SOAK_SECS`
/// seconds (default 180); exits 1 when a check failed.
async fn soak_main() {
    let secs = std::env::var("SOAK_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(180);
    let stores = Stores::new("soak.db").await;
    let bin = wrk::server_binary().unwrap_or_else(|e| fail("server binary", e));
    let mut all_held = true;
    println!("## Soak\n");
    for (name, url) in &stores.list {
        let (report, held) =
            soak::run(&bin, stores.dir.path(), name, url, secs).await.unwrap_or_else(|e| fail(name, e));
        println!("{report}");
        all_held &= held;
    }
    if !all_held {
        std::process::exit(1);
    }
}
