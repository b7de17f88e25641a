//! Per-call costs of the enrichment adapters, timed over many calls in one loop each.

use std::hint::black_box;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use portcullis_bench::USER_AGENTS;
use portcullis_device_uap::UapDeviceDetector;
use portcullis_domain::ports::{DeviceDetector, GeoLookup};
use portcullis_geo_maxmind::{MaxmindGeoLookup, fixture};

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
