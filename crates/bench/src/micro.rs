//! Per-call costs of the enrichment adapters, timed over many calls in one loop each.

use std::hint::black_box;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use portcullis_device_uap::UapDeviceDetector;
use portcullis_domain::ports::{DeviceDetector, GeoLookup};
use portcullis_geo_maxmind::{MaxmindGeoLookup, fixture};

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

/// Markdown rows: geo lookup and user-agent parsing, cold (uncached) and cached.
pub fn enrichment_costs() -> Result<String, String> {
    let geo = MaxmindGeoLookup::from_bytes(fixture::city_db_bytes()).map_err(|e| e.to_string())?;
    let hits: Vec<IpAddr> = fixture::KNOWN.iter().filter_map(|(ip, _, _)| ip.parse().ok()).collect();
    let misses: Vec<IpAddr> = (0..64u8).map(|i| IpAddr::from([203, 0, 114, i])).collect();
    let started = Instant::now();
    let built = UapDeviceDetector::new().map_err(|e| e.to_string())?;
    let build_time = started.elapsed();

    let rounds = 20_000;
    let geo_hit = per_call(rounds, |i| {
        black_box(geo.locate(hits[i % hits.len()]));
    });
    let geo_miss = per_call(rounds, |i| {
        black_box(geo.locate(misses[i % misses.len()]));
    });
    let ua_cold = per_call(4_000, |i| {
        black_box(built.parse_uncached(USER_AGENTS[i % USER_AGENTS.len()]));
    });
    let ua_cached = per_call(rounds, |i| {
        black_box(built.detect(USER_AGENTS[i % USER_AGENTS.len()]));
    });
    let us = |d: Duration| format!("{:.2} µs", d.as_secs_f64() * 1e6);
    Ok(format!(
        "## Enrichment costs per call\n\n\
         | operation | median of 5 passes |\n|---|---|\n\
         | GeoIP lookup + decode, City fixture, hit | {} |\n\
         | GeoIP lookup, address outside the database | {} |\n\
         | user-agent parse, uncached ({} realistic UAs) | {} |\n\
         | user-agent parse through the cache | {} |\n\
         | user-agent rules: build the parser (once, at start) | {:.0} ms |\n",
        us(geo_hit),
        us(geo_miss),
        USER_AGENTS.len(),
        us(ua_cold),
        us(ua_cached),
        build_time.as_secs_f64() * 1000.0
    ))
}

/// Median over 5 passes of the mean time per call of `f` over `calls` calls.
fn per_call(calls: usize, mut f: impl FnMut(usize)) -> Duration {
    let mut passes: Vec<Duration> = (0..5)
        .map(|_| {
            let started = Instant::now();
            for i in 0..calls {
                f(i);
            }
            started.elapsed() / u32::try_from(calls).unwrap_or(u32::MAX)
        })
        .collect();
    passes.sort_unstable();
    passes[2]
}
