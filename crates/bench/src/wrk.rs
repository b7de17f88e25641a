//! Load on the release binary, driven by `wrk` over loopback: login throughput against the
//! Argon2id limit measured in the same run, authenticated reads, registration, and the
//! server's peak memory during a login flood.
//!
//! The server runs as its own process (`target/release/portcullis serve`), so its resident
//! memory is its own; wrk, the database and the server share the machine's cores.

use std::fmt::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use portcullis_crypto::Argon2Engine;
use portcullis_server::Settings;

/// Seconds each wrk run lasts.
pub(crate) const RUN_SECS: u64 = 8;
/// Connection counts of the login runs (the issue's figures).
const LOGIN_CONNECTIONS: [usize; 4] = [1, 2, 16, 64];
/// Runs per login configuration; the median run is reported, with the range: one 8 s run
/// on these shared machines moves by several percent.
const LOGIN_REPEATS: usize = 3;
/// Connections of the read runs.
const READ_CONNECTIONS: usize = 64;
/// Connections of the flood whose peak memory is reported.
const FLOOD_CONNECTIONS: usize = 256;
/// Accounts the login runs cycle through: as many as the most connections of a login run, so
/// one account rarely has more than a couple of logins in flight (five at once would hit its
/// own lockout, which reserves an attempt per login in flight).
const LOGIN_USERS: usize = 64;
/// Accounts seeded with a 1,000-entry login history (the first of the login accounts).
const HISTORY_USERS: usize = 16;
/// The password of every seeded account.
pub(crate) const PASSWORD: &str = "correct horse battery staple";

/// One wrk run's figures.
pub struct WrkRun {
    pub(crate) requests_per_sec: f64,
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
    pub(crate) non_2xx: u64,
    pub(crate) socket_errors: u64,
    /// Non-2xx responses by status (`429=12 503=3`), when the script counted them.
    statuses: String,
}

/// A server process, killed when dropped.
pub(crate) struct Server {
    child: Child,
    pub(crate) base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// The server's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's peak resident set (`VmHWM`), in MiB.
    pub(crate) fn peak_rss_mib(&self) -> Result<f64, String> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).map_err(|e| e.to_string())?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).ok_or("no VmHWM in /proc status")?;
        let kib: f64 = line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).ok_or("unreadable VmHWM")?;
        Ok(kib / 1024.0)
    }
}

/// A free loopback port (bound, then released for the server to take).
fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

/// Starts `bin serve` on `db_url` with the default Argon2 parameters and pool, the log
/// mailer and no per-IP limit (one client sends everything), on the cores `cpus` (all when
/// `None`), and waits until it is ready.
async fn start(bin: &Path, dir: &Path, db_url: &str, cpus: Option<&str>) -> Result<Server, String> {
    start_with(bin, dir, db_url, cpus, &[]).await
}

/// [`start`] with `env` set on top (for example another mail transport).
pub(crate) async fn start_with(
    bin: &Path,
    dir: &Path,
    db_url: &str,
    cpus: Option<&str>,
    env: &[(&str, String)],
) -> Result<Server, String> {
    let port = free_port()?;
    let child = crate::pin::command(bin.as_os_str(), cpus)
        .arg("serve")
        .env("PORTCULLIS__SERVER__ADDR", format!("127.0.0.1:{port}"))
        .env("DATABASE_URL", db_url)
        .env("PORTCULLIS__MAILER__TRANSPORT", "log")
        .env("PORTCULLIS__TOKENS__KEY_FILE", dir.join("token.key"))
        .env("PORTCULLIS__TOKENS__HASH_KEY_FILE", dir.join("hash.key"))
        .env("PORTCULLIS__MFA__SECRET_KEY_FILE", dir.join("mfa.key"))
        // Seeding signs in from this one address far more often than a client would; the
        // load itself comes from many (see `post_script`).
        .env("PORTCULLIS__LIMITS__REQUESTS_PER_IP_PER_MINUTE", u32::MAX.to_string())
        .env("PORTCULLIS__SERVER__TRUSTED_PROXIES", "[\"127.0.0.1/32\"]")
        .env("PORTCULLIS__LOG__FILTER", "error")
        .envs(crate::webhooks::SERVER_ENV)
        .env_remove("RUST_LOG")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting {}: {e}", bin.display()))?;
    let server = Server { child, base: format!("http://127.0.0.1:{port}") };
    let client = awc::Client::builder().timeout(Duration::from_secs(2)).finish();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(res) = client.get(format!("{}/health/ready", server.base)).send().await
            && res.status().is_success()
        {
            return Ok(server);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err("the server did not become ready within 60 s".to_owned())
}

/// The value of each of `names` (unlabelled series) in the server's `/metrics`.
pub(crate) async fn metrics(base: &str, names: &[&str]) -> Result<Vec<f64>, String> {
    let client = awc::Client::builder().timeout(Duration::from_secs(10)).finish();
    let mut res = client.get(format!("{base}/metrics")).send().await.map_err(|e| e.to_string())?;
    let body = res.body().await.map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&body);
    names
        .iter()
        .map(|name| {
            text.lines()
                .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
                .and_then(|v| v.trim().parse::<f64>().ok())
                .ok_or_else(|| format!("no {name} in /metrics"))
        })
        .collect()
}

/// `portcullis_hash_seconds_total` and `portcullis_hash_jobs_total`: thread time spent
/// hashing, and hashes done.
async fn hash_counters(base: &str) -> Result<(f64, f64), String> {
    match metrics(base, &["portcullis_hash_seconds_total", "portcullis_hash_jobs_total"]).await?[..] {
        [seconds, jobs] => Ok((seconds, jobs)),
        _ => Err("unreadable hash counters".to_owned()),
    }
}

/// Waits until the server has no password hashing left from the previous run: wrk stops
/// sending at its deadline, but the requests already queued are still answered, and a run
/// started on top of them would measure the tail of the last one.
pub(crate) async fn drained(base: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last_jobs = f64::NAN;
    loop {
        let values = metrics(base, &["portcullis_hash_queue_depth", "portcullis_hash_jobs_total"]).await?;
        if values[0] == 0.0 && values[1] == last_jobs {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err("the server still hashes 30 s after a run".to_owned());
        }
        last_jobs = values[1];
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Clock ticks per second of `/proc/<pid>/stat` times (`getconf CLK_TCK`, 100 on Linux).
fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// CPU seconds (user + system) process `pid` has used so far; 0 when unreadable.
pub(crate) fn cpu_secs(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    let Some((_, rest)) = stat.rsplit_once(')') else { return 0.0 };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / clock_ticks()
}

/// CPU seconds used so far by every process whose command name is `name`.
fn cpu_secs_named(name: &str) -> f64 {
    crate::pin::pids_named(name).into_iter().map(cpu_secs).sum()
}

/// Parses a wrk latency like `12.34ms`, `850.00us` or `1.02s`.
fn parse_latency(text: &str) -> Option<Duration> {
    let (number, unit) = text.split_at(text.find(|c: char| c.is_ascii_alphabetic())?);
    let value: f64 = number.parse().ok()?;
    let secs = match unit {
        "us" => value / 1e6,
        "ms" => value / 1e3,
        "s" => value,
        "m" => value * 60.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(secs))
}

/// Reads the figures out of wrk's `--latency` report.
fn parse_wrk(output: &str) -> Result<WrkRun, String> {
    let value_after = |prefix: &str| {
        output.lines().map(str::trim).find_map(|l| l.strip_prefix(prefix)).map(|rest| rest.trim().to_owned())
    };
    let percentile = |p: &str| {
        output.lines().map(str::trim).find_map(|l| {
            let mut parts = l.split_whitespace();
            (parts.next() == Some(p)).then(|| parts.next().and_then(parse_latency)).flatten()
        })
    };
    let requests_per_sec = value_after("Requests/sec:").and_then(|v| v.parse().ok()).ok_or("no Requests/sec")?;
    let socket_errors = value_after("Socket errors:")
        .map_or(0, |v| v.split(',').filter_map(|part| part.split_whitespace().nth(1)?.parse::<u64>().ok()).sum());
    Ok(WrkRun {
        requests_per_sec,
        p50: percentile("50%").ok_or("no 50% latency")?,
        p99: percentile("99%").ok_or("no 99% latency")?,
        non_2xx: value_after("Non-2xx or 3xx responses:").and_then(|v| v.parse().ok()).unwrap_or(0),
        socket_errors,
        statuses: value_after("Statuses:").unwrap_or_default(),
    })
}

/// Runs wrk with `script` against `url` over `connections` connections, once the server has
/// finished the previous run's requests.
async fn run_wrk(base: &str, dir: &Path, url: &str, script: &str, connections: usize) -> Result<WrkRun, String> {
    drained(base).await?;
    run_wrk_now(dir, url, script, connections, None)
}

/// [`run_wrk`] with the CPU time the server and PostgreSQL's processes used per request
/// meanwhile, in milliseconds (`/proc` user + system time; PostgreSQL's is 0 on SQLite).
async fn run_wrk_cpu(
    server: &Server,
    dir: &Path,
    url: &str,
    script: &str,
    connections: usize,
) -> Result<(WrkRun, f64, f64), String> {
    drained(&server.base).await?;
    let before = (cpu_secs(server.pid()), cpu_secs_named("postgres"));
    let run = run_wrk_now(dir, url, script, connections, None)?;
    let after = (cpu_secs(server.pid()), cpu_secs_named("postgres"));
    let requests = (run.requests_per_sec * RUN_SECS as f64).max(1.0);
    Ok((run, (after.0 - before.0) * 1e3 / requests, (after.1 - before.1) * 1e3 / requests))
}

/// Runs wrk with `script` against `url` over `connections` connections, on the cores
/// `cpus` (one thread per core it may use at most two; all cores when `None`).
pub(crate) fn run_wrk_now(
    dir: &Path,
    url: &str,
    script: &str,
    connections: usize,
    cpus: Option<&str>,
) -> Result<WrkRun, String> {
    let path = dir.join("bench.lua");
    std::fs::write(&path, script).map_err(|e| e.to_string())?;
    let threads = if cpus.is_some_and(|c| !c.contains([',', '-'])) { 1 } else { connections.clamp(1, 2) };
    let output = crate::pin::command("wrk".as_ref(), cpus)
        .args(["-t", &threads.to_string(), "-c", &connections.to_string(), "-d", &format!("{RUN_SECS}s")])
        .args(["--timeout", "10s", "--latency", "-s"])
        .arg(&path)
        .arg(url)
        .output()
        .map_err(|e| format!("running wrk (is it installed? `make bench` installs it): {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        return Err(format!("wrk failed: {text} {}", String::from_utf8_lossy(&output.stderr)));
    }
    parse_wrk(&text)
}

/// A Lua script POSTing JSON built by `body` (a Lua expression using the counter `i` and the
/// per-thread `id`) to `path`, each request from a random client address (`X-Forwarded-For`,
/// believed from loopback), as a server's load comes from many clients. From one address,
/// every request of the last minute would sit in that address's rate-limit window, and the
/// per-IP check would count thousands of events per request, which no deployment sees: its
/// limit (60 a minute by default) keeps a window that small.
fn post_script(path: &str, prelude: &str, body: &str) -> String {
    format!(
        r#"{prelude}
local counter = 0
local threads = {{}}
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end
local i = 0
request = function()
  i = i + 1
  local client = math.random(1, 223) .. "." .. math.random(0, 255) .. "." .. math.random(0, 255) .. "." .. math.random(1, 254)
  return wrk.format("POST", "{path}", {{["Content-Type"] = "application/json", ["X-Forwarded-For"] = client}}, {body})
end
statuses = {{}}
response = function(status, headers, body)
  if status >= 300 then
    statuses[status] = (statuses[status] or 0) + 1
  end
end
function done(summary, latency, requests)
  local totals = {{}}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      totals[status] = (totals[status] or 0) + n
    end
  end
  local parts = {{}}
  for status, n in pairs(totals) do
    table.insert(parts, status .. "=" .. n)
  end
  table.sort(parts)
  io.write("Statuses: " .. table.concat(parts, " ") .. "\n")
end
"#
    )
}

/// The non-2xx responses and socket errors of `runs`, with the statuses when known
/// (`12 (429=12)`).
fn failures(runs: &[WrkRun]) -> String {
    let total: u64 = runs.iter().map(|r| r.non_2xx + r.socket_errors).sum();
    let statuses: Vec<&str> = runs.iter().map(|r| r.statuses.as_str()).filter(|s| !s.is_empty()).collect();
    if total == 0 || statuses.is_empty() { total.to_string() } else { format!("{total} ({})", statuses.join(" ")) }
}

/// A Lua script GETting the URL with a bearer token.
pub(crate) fn get_script(token: &str) -> String {
    format!("wrk.headers[\"Authorization\"] = \"Bearer {token}\"\n")
}

/// How long one hashing run of [`hash_limit`] lasts per engine.
const HASH_RATE_SECS: u64 = 10;

/// The login limit on `threads` hashing threads: the verification rate of the fastest engine,
/// each measured here, now; and a Markdown sentence with every engine's rate.
async fn hash_limit(threads: usize) -> Result<(f64, String), String> {
    let mut rates = Vec::new();
    for engine in Argon2Engine::ALL {
        let rate = portcullis_bench::hash_rate(engine, threads, Duration::from_secs(HASH_RATE_SECS)).await?;
        rates.push((engine, rate));
    }
    let (fastest, limit) = rates.iter().copied().max_by(|a, b| a.1.total_cmp(&b.1)).ok_or("no engine")?;
    let each: Vec<String> = rates
        .iter()
        .map(|(engine, rate)| {
            format!("`{}` {rate:.1}/s ({:.1} ms of a thread each)", engine.name(), threads as f64 * 1e3 / rate)
        })
        .collect();
    let sentence = format!(
        "Argon2id verifications on a pool of {threads} hashing threads kept busy for {HASH_RATE_SECS} s each, \
         in this run: {}. The limit is the fastest, `{}`: **{limit:.0} logins/s**.",
        each.join(", "),
        fastest.name()
    );
    Ok((limit, sentence))
}

pub(crate) fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// A server on one store, seeded: [`LOGIN_USERS`] verified accounts, the first
/// [`HISTORY_USERS`] with 1,000 audit entries each.
pub(crate) struct Seeded {
    /// The server process.
    pub(crate) server: Server,
    /// An access token of the first account (which has a history).
    pub(crate) token: String,
    /// A wrk script logging in to the accounts in turn.
    pub(crate) login: String,
    /// The login URL.
    pub(crate) login_url: String,
}

/// Starts `bin` on the store `url` (named `name`) under `dir` and seeds it.
pub(crate) async fn seeded(bin: &Path, dir: &Path, name: &str, url: &str) -> Result<Seeded, String> {
    let store_dir = dir.join(name.split_whitespace().next().unwrap_or("store"));
    std::fs::create_dir_all(&store_dir).map_err(|e| e.to_string())?;
    let server = start(bin, &store_dir, url, None).await?;
    let mut settings = Settings::default();
    settings.database.url = url.to_owned();
    let tokens = crate::seed::users_with_history(&server.base, &settings, 0..HISTORY_USERS, 1_000).await?;
    crate::seed::users_with_history(&server.base, &settings, HISTORY_USERS..LOGIN_USERS, 0).await?;
    let token = tokens.into_iter().next().ok_or("no user seeded")?;
    let login = login_script();
    let login_url = format!("{}/api/v1/auth/login", server.base);
    Ok(Seeded { server, token, login, login_url })
}

/// A wrk script logging in to the [`LOGIN_USERS`] seeded accounts in turn.
fn login_script() -> String {
    let emails: Vec<String> = (0..LOGIN_USERS).map(|i| format!("\"bench{i}@example.com\"")).collect();
    let prelude = format!("local users = {{{}}}", emails.join(", "));
    let login_body = format!(r#"'{{"email":"' .. users[(i % #users) + 1] .. '","password":"{PASSWORD}"}}'"#);
    post_script("/api/v1/auth/login", &prelude, &login_body)
}

/// A wrk script registering a new address with every request.
pub(crate) fn register_script() -> String {
    let body = format!(
        r#"'{{"name":"Load","email":"reg' .. id .. '-' .. i .. '-' .. os.time() .. '@example.com","password":"{PASSWORD}"}}'"#
    );
    post_script("/api/v1/auth/register", "", &body)
}

/// The Markdown section for every store in `stores` (name, database URL).
pub async fn section(bin: &Path, dir: &Path, stores: &[(&'static str, String)]) -> Result<String, String> {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let (limit, rates) = hash_limit(cores).await?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## HTTP load with wrk on the release binary\n\n`wrk -t2 -c<connections> -d{RUN_SECS}s --latency` on loopback against \
         `target/release/portcullis serve` (default Argon2id m=19456 KiB t=2 p=1 on the default engine, hashing pool of \
         {cores} workers and 64 waiting jobs, log mailer, per-IP limit lifted for the seeding; the POSTs come from random client addresses in a trusted `X-Forwarded-For`).\n\n{rates} t_hash is the server's own \
         time per verification during the 1-connection runs (from `portcullis_hash_seconds_total` / \
         `portcullis_hash_jobs_total`).\n"
    );
    for (name, url) in stores {
        let Seeded { server, token, login, login_url } = seeded(bin, dir, name, url).await?;
        let token = &token;

        let runs = login_runs(&server, dir, &login_url, &login, &LOGIN_CONNECTIONS, limit, None).await?;
        let hung = crate::webhooks::hung_receiver(&server, dir, url, &login_url, &login).await?;
        let _ = writeln!(
            out,
            "### {name}\n\nt_hash in the server: {:.1} ms; the limit is **{limit:.0} logins/s** (above).\n",
            runs.t_hash * 1e3,
        );
        let _ = writeln!(
            out,
            "| logins, connections | logins/s, median of {LOGIN_REPEATS} runs (range) | p50 | p99 | non-2xx in all runs | median / limit | server CPU per login | PostgreSQL CPU per login |\n|---|---|---|---|---|---|---|---|"
        );
        out.push_str(&runs.table);
        out.push_str(&runs.cpu_split);
        out.push_str(&hung);
        let _ = writeln!(
            out,
            "\n| other load, {READ_CONNECTIONS} connections | requests/s | p50 | p99 | non-2xx | server CPU per request | PostgreSQL CPU per request |\n|---|---|---|---|---|---|---|"
        );
        let register = register_script();
        let loads = [
            (
                "GET /auth/login-history?limit=50 (1,000 entries)",
                "/api/v1/auth/login-history?limit=50",
                get_script(token),
            ),
            ("GET /users/me", "/api/v1/users/me", get_script(token)),
            ("POST /auth/register (new addresses)", "/api/v1/auth/register", register),
        ];
        for (label, path, script) in loads {
            let url = format!("{}{path}", server.base);
            let (r, server_ms, pg_ms) = run_wrk_cpu(&server, dir, &url, &script, READ_CONNECTIONS).await?;
            let _ = writeln!(
                out,
                "| {label} | {:.0} | {} | {} | {} | {server_ms:.2} ms | {pg_ms:.2} ms |",
                r.requests_per_sec,
                ms(r.p50),
                ms(r.p99),
                r.non_2xx + r.socket_errors
            );
        }
        let r = run_wrk(&server.base, dir, &login_url, &login, FLOOD_CONNECTIONS).await?;
        // Let the admitted logins finish before the server is stopped: killed mid-login, they
        // would leave counted attempts behind for the next runs on this store.
        drained(&server.base).await?;
        let peak = server.peak_rss_mib()?;
        let _ = writeln!(
            out,
            "\nLogin flood, {FLOOD_CONNECTIONS} connections: {:.0} responses/s; {} of the run's responses were 503 at \
             once (hashing queue full) or failed; \
             **peak resident memory of the server {peak:.0} MiB** (`VmHWM`, whole run including seeding).\n",
            r.requests_per_sec,
            r.non_2xx + r.socket_errors
        );
        drop(server);
        out.push_str(&own_core_logins(bin, dir, name, url, cores).await?);
    }
    Ok(out)
}

/// Login runs with the server on every core but the first, and wrk, this process and
/// PostgreSQL's processes on the first, as with a database on its own host: the Markdown
/// subsection, or why it was not measured.
pub(crate) async fn own_core_logins(
    bin: &Path,
    dir: &Path,
    name: &str,
    url: &str,
    cores: usize,
) -> Result<String, String> {
    let Some(server_cpus) = crate::pin::server_cpus(cores) else {
        return Ok("\nNot measured with the database on its own core: this machine has one core.\n".to_owned());
    };
    // PostgreSQL moves off the server's cores whichever store is measured: its background
    // work would otherwise run there.
    let postgres = crate::pin::Pinned::pin(crate::pin::Who::Named("postgres"));
    if url.starts_with("postgres")
        && let Err(e) = &postgres
    {
        return Ok(format!("\nNot measured with the database on its own core: {e}.\n"));
    }
    let n = cores - 1;
    // Measured before this process is pinned to the other core.
    let (limit, rates) = hash_limit(n).await?;
    let _myself = crate::pin::Pinned::pin(crate::pin::Who::Myself)?;
    let store_dir = dir.join(name.split_whitespace().next().unwrap_or("store"));
    let server = start(bin, &store_dir, url, Some(&server_cpus)).await?;
    let script = login_script();
    let login_url = format!("{}/api/v1/auth/login", server.base);
    let runs =
        login_runs(&server, dir, &login_url, &script, &OWN_CORE_CONNECTIONS, limit, Some(crate::pin::OTHERS_CPUS))
            .await?;
    let database =
        if postgres.is_ok() { "wrk, this benchmark and PostgreSQL's processes" } else { "wrk and this benchmark" };
    Ok(format!(
        "\n#### Logins with the database on its own core\n\nThe same store with the server restarted under \
         `taskset -c {server_cpus}` (so N = {n} and a hashing pool of {n}) and {database} on core {others}: in \
         production the database and the clients run on hosts of their own, while on this machine they \
         otherwise take their CPU from the hashing threads (see the CPU per login above). {rates} t_hash in the \
         server: {:.1} ms.\n\n\
         | logins, connections | logins/s, median of {LOGIN_REPEATS} runs (range) | p50 | p99 | non-2xx in all runs | median / limit | server CPU per login | PostgreSQL CPU per login |\n|---|---|---|---|---|---|---|---|\n{}{}",
        runs.t_hash * 1e3,
        runs.table,
        runs.cpu_split,
        others = crate::pin::OTHERS_CPUS,
    ))
}

/// Connection counts of the own-core login runs (1 gives t_hash).
const OWN_CORE_CONNECTIONS: [usize; 2] = [1, 64];

/// What [`login_runs`] measured.
struct LoginRuns {
    /// One Markdown table row per connection count.
    table: String,
    /// The server's time per verification in the 1-connection runs, in seconds.
    t_hash: f64,
    /// CPU per login of the server and of PostgreSQL's processes, in the last count's runs.
    cpu_split: String,
}

/// [`LOGIN_REPEATS`] login runs per entry of `connections` (which starts with 1, whose runs
/// give t_hash), each compared with `limit` (logins per second), with wrk on `wrk_cpus`.
async fn login_runs(
    server: &Server,
    dir: &Path,
    login_url: &str,
    script: &str,
    connections: &[usize],
    limit: f64,
    wrk_cpus: Option<&str>,
) -> Result<LoginRuns, String> {
    let mut out = LoginRuns { table: String::new(), t_hash: f64::NAN, cpu_split: String::new() };
    for &count in connections {
        let mut runs = Vec::with_capacity(LOGIN_REPEATS);
        let mut hashing = (0.0, 0.0);
        let mut cpu = (0.0, 0.0);
        for _ in 0..LOGIN_REPEATS {
            drained(&server.base).await?;
            let before = hash_counters(&server.base).await?;
            let cpu_before = (cpu_secs(server.pid()), cpu_secs_named("postgres"));
            runs.push(run_wrk_now(dir, login_url, script, count, wrk_cpus)?);
            let cpu_after = (cpu_secs(server.pid()), cpu_secs_named("postgres"));
            let after = hash_counters(&server.base).await?;
            hashing = (hashing.0 + after.0 - before.0, hashing.1 + after.1 - before.1);
            cpu = (cpu.0 + cpu_after.0 - cpu_before.0, cpu.1 + cpu_after.1 - cpu_before.1);
        }
        if count == 1 {
            out.t_hash = hashing.0 / hashing.1.max(1.0);
        }
        if Some(&count) == connections.last() {
            let per_login = |secs: f64| secs * 1e3 / hashing.1.max(1.0);
            out.cpu_split = format!(
                "\nPer login at {count} connections (all runs): the server used {:.1} ms of CPU and its \
                 hashing threads were busy {:.1} ms (wall time, so preemption included); PostgreSQL's server \
                 processes used {:.1} ms of CPU (`/proc` user + system time).\n",
                per_login(cpu.0),
                per_login(hashing.0),
                per_login(cpu.1)
            );
        }
        runs.sort_by(|a, b| a.requests_per_sec.total_cmp(&b.requests_per_sec));
        let (low, high) = (runs[0].requests_per_sec, runs[runs.len() - 1].requests_per_sec);
        let r = &runs[runs.len() / 2];
        let per_login = |secs: f64| secs * 1e3 / hashing.1.max(1.0);
        let _ = writeln!(
            out.table,
            "| {count} | {:.0} ({low:.0}-{high:.0}) | {} | {} | {} | {:.0}% | {:.1} ms | {:.2} ms |",
            r.requests_per_sec,
            ms(r.p50),
            ms(r.p99),
            failures(&runs),
            100.0 * r.requests_per_sec / limit,
            per_login(cpu.0),
            per_login(cpu.1)
        );
    }
    Ok(out)
}

/// The release binary next to this one.
pub fn server_binary() -> Result<PathBuf, String> {
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let bin = me.with_file_name("portcullis");
    if bin.exists() { Ok(bin) } else { Err(format!("{} not built (`make bench` builds it)", bin.display())) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "Running 8s test @ http://127.0.0.1:1/api/v1/auth/login
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   740.53ms   98.10ms   1.02s    80.00%
    Req/Sec    43.10     20.11   101.00     67.00%
  Latency Distribution
     50%  735.12ms
     75%  790.00ms
     90%  850.33ms
     99%    1.01s
  688 requests in 8.01s, 1.20MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:     85.89
Transfer/sec:    153.20KB
Statuses: 429=3 503=4
";

    #[test]
    fn reads_wrk_reports() {
        let r = parse_wrk(SAMPLE).unwrap();
        assert!((r.requests_per_sec - 85.89).abs() < 1e-9);
        assert_eq!(r.p50, Duration::from_secs_f64(0.73512));
        assert_eq!(r.p99, Duration::from_secs_f64(1.01));
        assert_eq!((r.non_2xx, r.socket_errors), (7, 5));
        assert_eq!(r.statuses, "429=3 503=4");
        assert!(parse_wrk("garbage").is_err());
    }

    #[test]
    fn reads_cpu_time_from_proc() {
        let me = std::process::id();
        let before = cpu_secs(me);
        let started = std::time::Instant::now();
        let mut x = 0u64;
        while started.elapsed() < Duration::from_millis(300) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        assert!(cpu_secs(me) > before, "300 ms of spinning used no CPU time");
        assert_eq!(cpu_secs(u32::MAX), 0.0);
        assert_eq!(cpu_secs_named("no-such-process-name"), 0.0);
    }

    #[test]
    fn latency_units() {
        assert_eq!(parse_latency("850.00us"), Some(Duration::from_micros(850)));
        assert_eq!(parse_latency("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_latency("12"), None);
        assert_eq!(parse_latency("3h"), None);
    }
}
