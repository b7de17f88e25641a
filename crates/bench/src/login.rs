//! Login latency with and without enrichment (GeoIP + user-agent parsing). Both servers run
//! at once and the timed logins alternate between them (which goes first alternates too), so
//! both configurations see the same machine: on a shared machine, measuring one block after
//! the other mostly measures the neighbours.

use std::path::Path;
use std::time::{Duration, Instant};

use portcullis_server::{Application, Settings};
use serde_json::json;

const LOGINS: usize = 80;
const WARM_UP: usize = 10;
const PASSWORD: &str = "correct horse battery staple";
const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

/// A Markdown section with p50 and mean login latency for both configurations.
pub async fn with_and_without_enrichment(dir: &Path) -> Result<String, String> {
    let plain = start(dir, "plain", false).await?;
    let enriched = start(dir, "enriched", true).await?;
    let client = awc::Client::builder().timeout(Duration::from_secs(60)).finish();
    let (mut a, mut b) = (Vec::with_capacity(LOGINS), Vec::with_capacity(LOGINS));
    for i in 0..WARM_UP + LOGINS {
        let (first, second) = if i % 2 == 0 { (&plain, &enriched) } else { (&enriched, &plain) };
        let t1 = login(&client, first).await?;
        let t2 = login(&client, second).await?;
        if i >= WARM_UP {
            let (tp, te) = if i % 2 == 0 { (t1, t2) } else { (t2, t1) };
            a.push(tp);
            b.push(te);
        }
    }
    let (p50a, meana) = summary(&mut a);
    let (p50b, meanb) = summary(&mut b);
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
    Ok(format!(
        "## Login latency with and without enrichment\n\n\
         {LOGINS} logins on each of two servers running side by side on SQLite, alternating between them after \
         {WARM_UP} untimed rounds (right password, Argon2id m=19456 KiB t=2 p=1), from 81.2.69.142 via a trusted \
         X-Forwarded-For with a Firefox user agent.\n\n\
         | configuration | p50 | mean | vs plain |\n|---|---|---|---|\n\
         | no GeoIP database, user-agent parsing off | {} | {} | 1.00x |\n\
         | GeoIP City fixture + user-agent parsing | {} | {} | {:.2}x |\n",
        ms(p50a),
        ms(meana),
        ms(p50b),
        ms(meanb),
        p50b.as_secs_f64() / p50a.as_secs_f64().max(f64::EPSILON)
    ))
}

fn summary(times: &mut [Duration]) -> (Duration, Duration) {
    times.sort_unstable();
    let mean = times.iter().sum::<Duration>() / u32::try_from(times.len().max(1)).unwrap_or(1);
    (times.get(times.len() / 2).copied().unwrap_or_default(), mean)
}

async fn login(client: &awc::Client, base: &str) -> Result<Duration, String> {
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
    Ok(started.elapsed())
}

/// Starts one server with or without enrichment and a user to log in as; returns its base URL.
async fn start(dir: &Path, name: &str, enrich: bool) -> Result<String, String> {
    let mut s = Settings::default();
    s.server.addr = "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?;
    s.server.trusted_proxies = vec!["127.0.0.1/32".parse().map_err(|e| format!("{e}"))?];
    s.database.url = format!("sqlite://{}", dir.join(format!("login-{name}.db")).display());
    s.mailer.transport = "log".to_owned();
    s.tokens.key_file = dir.join("token.key");
    s.tokens.hash_key_file = dir.join("hash.key");
    s.mfa.secret_key_file = dir.join("mfa.key");
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
    crate::seed::users_with_history(&base, &s, 0..1, 0).await?;
    Ok(base)
}
