//! A closed-loop load generator: `connections` workers, each sending its next request as soon
//! as the previous answer arrives, until `total` requests are done.

use std::time::{Duration, Instant};

use futures_util::future::join_all;

/// What one run measured.
pub struct Report {
    name: &'static str,
    requests: usize,
    errors: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Report {
    /// Labels the report.
    pub fn named(mut self, name: &'static str) -> Self {
        self.name = name;
        self
    }

    fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[rank.min(self.latencies.len() - 1)]
    }
}

/// Sends `total` GETs over `connections` concurrent workers, cycling through `paths` (each with
/// its bearer token).
pub async fn drive(base: &str, paths: &[(String, String)], connections: usize, total: usize) -> Result<Report, String> {
    if paths.is_empty() {
        return Err("nothing to request".to_owned());
    }
    let started = Instant::now();
    let per_worker = total.div_ceil(connections);
    let workers = (0..connections).map(|w| {
        let client = awc::Client::builder().timeout(Duration::from_secs(60)).finish();
        async move {
            let mut latencies = Vec::with_capacity(per_worker);
            let mut errors = 0;
            for i in 0..per_worker {
                let (path, token) = &paths[(w + i * connections) % paths.len()];
                let sent = Instant::now();
                let ok = match client.get(format!("{base}{path}")).bearer_auth(token).send().await {
                    Ok(mut res) => res.status().is_success() && res.body().limit(1 << 20).await.is_ok(),
                    Err(_) => false,
                };
                latencies.push(sent.elapsed());
                if !ok {
                    errors += 1;
                }
            }
            (latencies, errors)
        }
    });
    let results = join_all(workers).await;
    let elapsed = started.elapsed();
    let mut latencies: Vec<Duration> = results.iter().flat_map(|(l, _)| l.iter().copied()).collect();
    latencies.sort_unstable();
    let errors = results.iter().map(|(_, e)| e).sum();
    Ok(Report { name: "", requests: latencies.len(), errors, elapsed, latencies })
}

/// The machine and the parameters, for the top of the section.
pub fn machine_header(connections: usize, users: usize, entries: usize, requests: usize) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    format!(
        "## Login history: {entries} entries per user, limit 50, {connections} connections\n\n\
         Machine: {cores} cores ({cpu}); server, database and load generator share it.\n\
         Load: {requests} closed-loop `GET /api/v1/auth/login-history?limit=50` over {connections} keep-alive \
         connections from one process, cycling through {users} users, after a 1,000-request warm-up.\n"
    )
}

/// A Markdown table of the runs, with the ratio to the first.
pub fn table(rows: &[Report]) -> String {
    let mut out = String::from(
        "| store | requests/s | p50 | p95 | p99 | errors | vs first row |\n|---|---|---|---|---|---|---|\n",
    );
    let first = rows.first().map(|r| r.requests as f64 / r.elapsed.as_secs_f64());
    for r in rows {
        let rps = r.requests as f64 / r.elapsed.as_secs_f64();
        let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
        out.push_str(&format!(
            "| {} | {:.0} | {} | {} | {} | {} | {:.2}x |\n",
            r.name,
            rps,
            ms(r.percentile(0.50)),
            ms(r.percentile(0.95)),
            ms(r.percentile(0.99)),
            r.errors,
            first.map_or(1.0, |f| rps / f)
        ));
    }
    out
}
