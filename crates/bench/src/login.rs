//! Login latency with and without enrichment (GeoIP + user-agent parsing), sequential
//! requests over loopback, so the figure is one login's cost rather than a queue's.

use std::path::Path;
use std::time::{Duration, Instant};

use portcullis_server::{Application, Settings};
use serde_json::json;

const LOGINS: usize = 60;
const PASSWORD: &str = "correct horse battery staple";
const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

/// A Markdown section with p50 and mean login latency for both configurations.
pub async fn with_and_without_enrichment(dir: &Path) -> Result<String, String> {
    let plain = run(dir, "plain", false).await?;
    let enriched = run(dir, "enriched", true).await?;
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
    Ok(format!(
        "## Login latency with and without enrichment\n\n\
         {LOGINS} sequential `POST /api/v1/auth/login` (right password, Argon2id m=19456 KiB t=2 p=1) on SQLite, \
         from 81.2.69.142 (via a trusted X-Forwarded-For) with a Firefox user agent.\n\n\
         Enrichment costs microseconds against an Argon2id verify of tens of milliseconds, so the two rows \
         differ by less than the noise of a shared machine; a ratio near 1.00 is the expected result.\n\n\
         | configuration | p50 | mean | vs plain |\n|---|---|---|---|\n\
         | no GeoIP database, user-agent parsing off | {} | {} | 1.00x |\n\
         | GeoIP City fixture + user-agent parsing | {} | {} | {:.2}x |\n",
        ms(plain.0),
        ms(plain.1),
        ms(enriched.0),
        ms(enriched.1),
        enriched.0.as_secs_f64() / plain.0.as_secs_f64().max(f64::EPSILON)
    ))
}

/// Returns (p50, mean).
async fn run(dir: &Path, name: &str, enrich: bool) -> Result<(Duration, Duration), String> {
    let mut s = Settings::default();
    s.server.addr = "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?;
    s.server.trusted_proxies = vec!["127.0.0.1/32".parse().map_err(|e| format!("{e}"))?];
    s.database.url = format!("sqlite://{}", dir.join(format!("login-{name}.db")).display());
    s.mailer.transport = "log".to_owned();
    s.tokens.key_file = dir.join("token.key");
    s.tokens.hash_key_file = dir.join("hash.key");
    s.log.filter = "warn".to_owned();
    s.limits.requests_per_ip_per_minute = u32::MAX;
    s.devices.enabled = enrich;
    if enrich {
        let db = dir.join("City.mmdb");
        portcullis_geo_maxmind::fixture::write_city_db(&db).map_err(|e| e.to_string())?;
        s.geoip.city_db = Some(db);
    }
    let app = Application::build(&s).await.map_err(|e| e.to_string())?;
    let base = format!("http://127.0.0.1:{}", app.port());
    actix_web::rt::spawn(app.run_until_stopped());
    let token = crate::seed::users_with_history(&base, &s, 1, 0).await?;
    drop(token);
    let client = awc::Client::builder().timeout(Duration::from_secs(60)).finish();
    let mut times = Vec::with_capacity(LOGINS);
    for _ in 0..LOGINS {
        let started = Instant::now();
        let res = client
            .post(format!("{base}/api/v1/auth/login"))
            .insert_header(("X-Forwarded-For", "81.2.69.142"))
            .insert_header(("User-Agent", FIREFOX))
            .send_json(&json!({"email": "bench0@example.com", "password": PASSWORD}))
            .await
            .map_err(|e| e.to_string())?;
        if !res.status().is_success() {
            return Err(format!("login answered {}", res.status()));
        }
        times.push(started.elapsed());
    }
    times.sort_unstable();
    let mean = times.iter().sum::<Duration>() / u32::try_from(times.len()).unwrap_or(1);
    Ok((times[times.len() / 2], mean))
}
