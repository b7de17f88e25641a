//! What the benchmark binary and the criterion micro-benchmarks share.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use portcullis_crypto::{Argon2Config, Argon2Engine, Argon2Hasher};
use portcullis_domain::model::Password;
use portcullis_domain::ports::PasswordHasher;
use portcullis_server::Settings;

/// A one-thread hasher at the server's default Argon2id parameters on the default engine,
/// for timing one hash.
///
/// # Errors
/// The hasher's own, as text.
pub fn default_hasher() -> Result<Argon2Hasher, String> {
    hasher_on(Argon2Engine::default(), 1)
}

/// A hasher at the server's default Argon2id parameters on `engine`, with `workers` threads.
///
/// # Errors
/// The hasher's own, as text.
pub fn hasher_on(engine: Argon2Engine, workers: usize) -> Result<Argon2Hasher, String> {
    let defaults = Settings::default().passwords;
    Argon2Hasher::new(Argon2Config {
        memory_kib: defaults.argon2_memory_kib,
        iterations: defaults.argon2_iterations,
        parallelism: defaults.argon2_parallelism,
        workers,
        max_queue: workers * 4,
        engine,
        ..Argon2Config::default()
    })
    .map_err(|e| e.to_string())
}

/// Verifications per second that a pool of `threads` hashing threads on `engine` sustains
/// for `run`, kept saturated (two callers per thread): the ceiling of logins per second on
/// this machine with that implementation. Measured in this process, while nothing else of the
/// benchmark runs.
///
/// # Errors
/// The hasher's own, as text.
pub async fn hash_rate(engine: Argon2Engine, threads: usize, run: Duration) -> Result<f64, String> {
    const PASSWORD: &str = "correct horse battery staple";
    let hasher = hasher_on(engine, threads)?;
    let hash = hasher.hash(Password::new(PASSWORD)).await.map_err(|e| e.to_string())?;
    let done = AtomicU64::new(0);
    let started = Instant::now();
    let deadline = started + run;
    let callers = (0..threads * 2).map(|_| async {
        while Instant::now() < deadline {
            hasher.verify(Password::new(PASSWORD), hash.clone()).await.map_err(|e| e.to_string())?;
            done.fetch_add(1, Ordering::Relaxed);
        }
        Ok::<(), String>(())
    });
    futures_util::future::try_join_all(callers).await?;
    Ok(done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}

/// Realistic user agents: desktop and mobile browsers, in-app views, bots and API clients.
pub const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36",
    "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "curl/8.5.0",
    "okhttp/4.12.0",
    "python-requests/2.31.0",
];
