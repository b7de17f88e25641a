//! What the benchmark binary and the criterion micro-benchmarks share.

use portcullis_crypto::{Argon2Config, Argon2Hasher};
use portcullis_server::Settings;

/// A one-thread hasher at the server's default Argon2id parameters, for timing one hash.
///
/// # Errors
/// The hasher's own, as text.
pub fn default_hasher() -> Result<Argon2Hasher, String> {
    let defaults = Settings::default().passwords;
    Argon2Hasher::new(Argon2Config {
        memory_kib: defaults.argon2_memory_kib,
        iterations: defaults.argon2_iterations,
        parallelism: defaults.argon2_parallelism,
        workers: 1,
        max_queue: 4,
    })
    .map_err(|e| e.to_string())
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
