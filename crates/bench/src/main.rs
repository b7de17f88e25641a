#![doc = include_str!("../README.md")]

mod criterion_report;
mod login;
mod pin;
mod profile;
mod seed;
mod soak;
mod wrk;

use portcullis_store_diesel::test_db::TestDatabase;

#[actix_web::main]
async fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("profile") => return profile_main().await,
        Some("own-core") => return own_core_main().await,
        Some("soak") => return soak_main().await,
        _ => {}
    }
    let mut sections = vec![criterion_report::section(std::path::Path::new("target/criterion"))];
    // The release binary as its own process on each store, driven by wrk (issue 6's figures).
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => return eprintln!("bench: temp dir: {e}"),
    };
    let mut stores = vec![("SQLite (file, WAL)", format!("sqlite://{}", dir.path().join("wrk.db").display()))];
    let postgres = TestDatabase::create().await;
    match &postgres {
        Some(db) => stores.push(("PostgreSQL (loopback)", db.url().to_owned())),
        None => sections.push("PostgreSQL: not measured (no server answered at TEST_DATABASE_URL).\n".to_owned()),
    }
    let bin = match wrk::server_binary() {
        Ok(bin) => bin,
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::exit(1);
        }
    };
    match wrk::section(&bin, dir.path(), &stores).await {
        Ok(section) => sections.push(section),
        Err(e) => {
            eprintln!("bench: wrk: {e}");
            std::process::exit(1);
        }
    }
    match login::with_and_without_enrichment(dir.path()).await {
        Ok(section) => sections.push(section),
        Err(e) => {
            eprintln!("bench: login: {e}");
            std::process::exit(1);
        }
    }
    println!("{}", sections.join("\n"));
}

/// `portcullis-bench profile` (`make profile`): the perf report of [`profile::report`].
async fn profile_main() {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => return eprintln!("profile: temp dir: {e}"),
    };
    let mut stores = vec![("SQLite (file, WAL)", format!("sqlite://{}", dir.path().join("profile.db").display()))];
    let postgres = TestDatabase::create().await;
    if let Some(db) = &postgres {
        stores.push(("PostgreSQL (loopback)", db.url().to_owned()));
    }
    let result = match wrk::server_binary() {
        Ok(bin) => profile::report(&bin, dir.path(), std::path::Path::new("target/profile"), &stores).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(report) => println!("{report}"),
        Err(e) => {
            eprintln!("profile: {e}");
            std::process::exit(1);
        }
    }
}

/// `portcullis-bench own-core`: only the login runs with the database on its own core, on
/// freshly seeded stores (a quicker check than the whole of `make bench`).
async fn own_core_main() {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => return eprintln!("own-core: temp dir: {e}"),
    };
    let mut stores = vec![("SQLite (file, WAL)", format!("sqlite://{}", dir.path().join("own.db").display()))];
    let postgres = TestDatabase::create().await;
    if let Some(db) = &postgres {
        stores.push(("PostgreSQL (loopback)", db.url().to_owned()));
    }
    let bin = match wrk::server_binary() {
        Ok(bin) => bin,
        Err(e) => return eprintln!("own-core: {e}"),
    };
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    for (name, url) in &stores {
        let result = match wrk::seeded(&bin, dir.path(), name, url).await {
            Ok(seeded) => {
                drop(seeded);
                wrk::own_core_logins(&bin, dir.path(), name, url, cores).await
            }
            Err(e) => Err(e),
        };
        match result {
            Ok(section) => println!("### {name}\n{section}"),
            Err(e) => {
                eprintln!("own-core: {e}");
                std::process::exit(1);
            }
        }
    }
}

/// `portcullis-bench soak` (`make soak`): [`soak::run`] on each store for `SOAK_SECS`
/// seconds (default 180); exits 1 when a check failed.
async fn soak_main() {
    let secs = std::env::var("SOAK_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(180);
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => return eprintln!("soak: temp dir: {e}"),
    };
    let mut stores = vec![("SQLite (file, WAL)", format!("sqlite://{}", dir.path().join("soak.db").display()))];
    let postgres = TestDatabase::create().await;
    if let Some(db) = &postgres {
        stores.push(("PostgreSQL (loopback)", db.url().to_owned()));
    }
    let bin = match wrk::server_binary() {
        Ok(bin) => bin,
        Err(e) => return eprintln!("soak: {e}"),
    };
    let mut all_held = true;
    println!("## Soak\n");
    for (name, url) in &stores {
        match soak::run(&bin, dir.path(), name, url, secs).await {
            Ok((report, held)) => {
                println!("{report}");
                all_held &= held;
            }
            Err(e) => {
                eprintln!("soak: {name}: {e}");
                std::process::exit(1);
            }
        }
    }
    if !all_held {
        std::process::exit(1);
    }
}
