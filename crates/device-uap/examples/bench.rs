//! Measures rule compilation, an uncached parse and a cache hit.
//!
//! `cargo run --release -p portcullis-device-uap --example bench [rounds]`: prints medians per user agent
//! over a small mixed set (desktop, mobile, bot, tool). Numbers from a debug build are not meaningful.

use std::time::{Duration, Instant};

use portcullis_device_uap::UapDeviceDetector;
use portcullis_domain::ports::DeviceDetector;

const UAS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "curl/8.5.0",
    "okhttp/4.12.0",
];

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rounds: usize = std::env::args().nth(1).map(|r| r.parse()).transpose()?.unwrap_or(201);
    let started = Instant::now();
    let d = UapDeviceDetector::new()?;
    println!("compile rules: {:?}", started.elapsed());

    let per_ua = |f: &dyn Fn(&str)| {
        let runs = (0..rounds)
            .map(|_| {
                let t = Instant::now();
                UAS.iter().for_each(|ua| f(ua));
                t.elapsed() / u32::try_from(UAS.len()).unwrap_or(1)
            })
            .collect();
        median(runs)
    };
    println!(
        "uncached parse: {:?} per UA (median of {rounds})",
        per_ua(&|ua| drop(std::hint::black_box(d.parse_uncached(ua))))
    );
    println!(
        "cache hit:      {:?} per UA (median of {rounds})",
        per_ua(&|ua| drop(std::hint::black_box(d.detect(ua))))
    );
    Ok(())
}
