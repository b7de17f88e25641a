//! `make soak`: minutes of mixed traffic on the release server, then the books are checked.
//!
//! Clients log in with right and wrong passwords (the wrong ones lock accounts out), with
//! unknown addresses, read their profile, history and notifications, and register. The
//! soak fails unless, afterwards:
//! - no response was a 5xx other than a 503 (the deliberate answer of a full hashing queue);
//! - the server's resident memory in the last third of the run is flat against the first;
//! - the audit log holds exactly one `auth.login.success` per 200 login and one
//!   `auth.login.failure` per refused login on an existing account (401, 403, 429
//!   `LOGIN_ATTEMPTS_EXCEEDED`), and nothing for unknown addresses or 503s;
//! - every successful login left exactly one in-app alert and one delivered alert mail,
//!   and the outbox is empty with nothing failed.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portcullis_domain::model::{AuditAction, AuditQuery, Email, UserId};
use portcullis_domain::ports::{AuditRepository, MailOutbox, NotificationRepository, UserRepository};
use portcullis_server::Settings;
use portcullis_store_diesel::{DbConfig, DieselStore};
use serde_json::json;

use crate::wrk::{Server, drained, metrics, start_with};

/// Accounts that only ever log in with their password.
const GOOD: usize = 24;
/// Accounts that also get wrong passwords, so they lock out again and again.
const VICTIMS: usize = 8;
/// Concurrent clients: more password checks at once than the hashing pool and its queue
/// take (2 workers and 64 waiting on two cores), so some get the deliberate 503.
const CLIENTS: usize = 128;
/// The password of every account.
const PASSWORD: &str = "correct horse battery staple";
/// The subject of the new-sign-in alert mail.
const ALERT_SUBJECT: &str = "Subject: New sign-in to your Portcullis account";

/// What one request did: its kind, status and problem code.
type Tally = BTreeMap<(&'static str, u16, String), u64>;

/// Soaks the store `url` for `secs` seconds; the Markdown report, and whether every check held.
pub async fn run(bin: &Path, dir: &Path, name: &str, url: &str, secs: u64) -> Result<(String, bool), String> {
    let store_dir = dir.join(format!("soak-{}", name.split_whitespace().next().unwrap_or("store")));
    std::fs::create_dir_all(&store_dir).map_err(|e| e.to_string())?;
    let mail_dir = store_dir.join("mail");
    let env = [
        ("PORTCULLIS__MAILER__TRANSPORT", "file".to_owned()),
        ("PORTCULLIS__MAILER__DIR", mail_dir.display().to_string()),
    ];
    let server = start_with(bin, &store_dir, url, None, &env).await?;
    let mut settings = Settings::default();
    settings.database.url = url.to_owned();
    let tokens = crate::seed::users_with_history(&server.base, &settings, 0..GOOD + VICTIMS, 0).await?;
    let store = DieselStore::connect(&DbConfig::new(url.to_owned())).await.map_err(|e| e.to_string())?;
    let good = user_ids(&store, 0..GOOD).await?;
    settle(&server).await?;
    let before = Books::read(&store, &good, &mail_dir).await?;

    let tally = Arc::new(Mutex::new(Tally::new()));
    let rss = Arc::new(Mutex::new(Vec::new()));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let sampler = actix_web::rt::spawn(sample_rss(server.pid(), deadline, rss.clone()));
    let mut clients = Vec::with_capacity(CLIENTS);
    for client in 0..CLIENTS {
        let (base, tally, tokens) = (server.base.clone(), tally.clone(), tokens.clone());
        clients.push(actix_web::rt::spawn(async move { traffic(client, &base, &tokens, deadline, &tally).await }));
    }
    for client in clients {
        client.await.map_err(|e| e.to_string())??;
    }
    let _ = sampler.await;
    settle(&server).await?;
    let after = Books::read(&store, &good, &mail_dir).await?;
    drop(server);

    let tally = tally.lock().map_err(|e| e.to_string())?.clone();
    let rss = rss.lock().map_err(|e| e.to_string())?.clone();
    Ok(report(name, secs, &tally, &rss, &before, &after))
}

/// The ids of `bench{i}@example.com` for `ids`.
async fn user_ids(store: &DieselStore, ids: std::ops::Range<usize>) -> Result<Vec<UserId>, String> {
    let mut out = Vec::with_capacity(ids.len());
    for i in ids {
        let email = Email::parse(&format!("bench{i}@example.com")).map_err(|e| e.to_string())?;
        let user = store.user_by_email(&email).await.map_err(|e| e.to_string())?.ok_or("seeded user missing")?;
        out.push(user.id);
    }
    Ok(out)
}

/// Waits until no hashing is left and the outbox is empty.
async fn settle(server: &Server) -> Result<(), String> {
    drained(&server.base).await?;
    let deadline = Instant::now() + Duration::from_secs(120);
    while metrics(&server.base, &["portcullis_mail_outbox_depth"]).await?[0] > 0.0 {
        if Instant::now() > deadline {
            return Err("the outbox did not empty within 120 s of the traffic's end".to_owned());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(())
}

/// The counts the checks compare, read from the store and the mail directory.
#[derive(Debug, Default)]
struct Books {
    successes: u64,
    failures: u64,
    alerts_in_app: u64,
    alert_mails: u64,
    outbox_failed: u64,
}

impl Books {
    async fn read(store: &DieselStore, good: &[UserId], mail_dir: &Path) -> Result<Self, String> {
        let count =
            |action| AuditQuery { user_id: None, action: Some(action), from: None, to: None, limit: 1, offset: 0 };
        let successes = store.search_audit(count(AuditAction::LoginSuccess)).await.map_err(|e| e.to_string())?;
        let failures = store.search_audit(count(AuditAction::LoginFailure)).await.map_err(|e| e.to_string())?;
        let mut alerts_in_app = 0;
        for id in good {
            alerts_in_app += store.notifications_page(*id, false, 1, 0).await.map_err(|e| e.to_string())?.total_count;
        }
        let mut alert_mails = 0;
        if let Ok(entries) = std::fs::read_dir(mail_dir) {
            for entry in entries.filter_map(Result::ok) {
                let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
                alert_mails += u64::from(text.lines().any(|l| l == ALERT_SUBJECT));
            }
        }
        Ok(Self {
            successes: successes.total_count,
            failures: failures.total_count,
            alerts_in_app,
            alert_mails,
            outbox_failed: store.outbox_failed_count().await.map_err(|e| e.to_string())?,
        })
    }
}

/// One client's loop until `deadline`: a fixed mix of requests, each tallied.
async fn traffic(
    client: usize,
    base: &str,
    tokens: &[String],
    deadline: Instant,
    tally: &Mutex<Tally>,
) -> Result<(), String> {
    let http = awc::Client::builder().timeout(Duration::from_secs(30)).finish();
    let mut n = client;
    while Instant::now() < deadline {
        n += CLIENTS;
        let token = &tokens[n % GOOD];
        let (kind, req, body) = match n % 10 {
            0..=2 => ("login", http.post(format!("{base}/api/v1/auth/login")), Some(login(n % GOOD, PASSWORD))),
            3 => ("wrong", http.post(format!("{base}/api/v1/auth/login")), Some(login(GOOD + n % VICTIMS, "wrong"))),
            4 => {
                let body = json!({"email": format!("nobody{n}@example.com"), "password": PASSWORD});
                ("unknown", http.post(format!("{base}/api/v1/auth/login")), Some(body))
            }
            5 => ("me", http.get(format!("{base}/api/v1/users/me")).bearer_auth(token), None),
            6 => ("history", http.get(format!("{base}/api/v1/auth/login-history?limit=50")).bearer_auth(token), None),
            7 => ("notifications", http.get(format!("{base}/api/v1/notifications")).bearer_auth(token), None),
            8 => {
                let body =
                    json!({"name": "Soak", "email": format!("soak{client}-{n}@example.com"), "password": PASSWORD});
                ("register", http.post(format!("{base}/api/v1/auth/register")), Some(body))
            }
            _ => ("health", http.get(format!("{base}/health/ready")), None),
        };
        let sent = match body {
            Some(body) => req.send_json(&body).await,
            None => req.send().await,
        };
        let mut res = sent.map_err(|e| format!("{kind}: {e}"))?;
        let status = res.status().as_u16();
        let bytes = res.body().limit(1 << 20).await.map_err(|e| format!("{kind}: {e}"))?;
        let code = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v["code"].as_str().map(str::to_owned))
            .filter(|_| status >= 400)
            .unwrap_or_default();
        *tally.lock().map_err(|e| e.to_string())?.entry((kind, status, code)).or_default() += 1;
    }
    Ok(())
}

fn login(account: usize, password: &str) -> serde_json::Value {
    json!({"email": format!("bench{account}@example.com"), "password": password})
}

/// Samples the server's resident memory every two seconds until `deadline`.
async fn sample_rss(pid: u32, deadline: Instant, out: Arc<Mutex<Vec<f64>>>) {
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let kib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok());
        if let (Some(kib), Ok(mut out)) = (kib, out.lock()) {
            out.push(kib / 1024.0);
        }
    }
}

/// Responses of `kind` with `status` (and `code`, when given).
fn count(tally: &Tally, kind: &str, status: u16, code: Option<&str>) -> u64 {
    tally
        .iter()
        .filter(|((k, s, c), _)| *k == kind && *s == status && code.is_none_or(|code| c == code))
        .map(|(_, n)| n)
        .sum()
}

/// The Markdown report and whether every check held.
fn report(name: &str, secs: u64, tally: &Tally, rss: &[f64], before: &Books, after: &Books) -> (String, bool) {
    let mut out = format!(
        "### {name}, {secs} s, {CLIENTS} clients\n\n| request | status | code | responses |\n|---|---|---|---|\n"
    );
    for ((kind, status, code), n) in tally {
        let _ = writeln!(out, "| {kind} | {status} | {code} | {n} |");
    }
    let total: u64 = tally.values().sum();
    let _ = writeln!(out, "\n{total} responses in all.\n");

    let mut checks: Vec<(String, bool)> = Vec::new();
    let server_errors: u64 = tally.iter().filter(|((_, s, _), _)| *s >= 500 && *s != 503).map(|(_, n)| n).sum();
    checks.push((format!("5xx other than 503: {server_errors}"), server_errors == 0));

    let refused_on_accounts = |kind| {
        count(tally, kind, 401, None)
            + count(tally, kind, 403, None)
            + count(tally, kind, 429, Some("LOGIN_ATTEMPTS_EXCEEDED"))
    };
    let successes = count(tally, "login", 200, None);
    let failures = refused_on_accounts("login") + refused_on_accounts("wrong");
    let audited_successes = after.successes - before.successes;
    let audited_failures = after.failures - before.failures;
    checks.push((
        format!("audit entries auth.login.success: {audited_successes} for {successes} logins answered 200"),
        audited_successes == successes,
    ));
    checks.push((
        format!(
            "audit entries auth.login.failure: {audited_failures} for {failures} logins on existing accounts refused \
             with 401, 403 or 429 (unknown addresses and 503s write none)"
        ),
        audited_failures == failures,
    ));
    let in_app = after.alerts_in_app - before.alerts_in_app;
    let mails = after.alert_mails - before.alert_mails;
    checks.push((format!("in-app alerts: {in_app} for {successes} successful logins"), in_app == successes));
    checks.push((format!("alert mails delivered: {mails} for {successes} successful logins"), mails == successes));
    checks.push((format!("mail given up on: {}", after.outbox_failed), after.outbox_failed == 0));

    let third = rss.len() / 3;
    let (first, last) = (&rss[..third.max(1).min(rss.len())], &rss[rss.len() - third.min(rss.len())..]);
    let peak = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    let (first_peak, last_peak) = (peak(first), peak(last));
    checks.push((
        format!(
            "memory flat: peak RSS {first_peak:.0} MiB in the first third, {last_peak:.0} MiB in the last \
             (allowed: +10% and 8 MiB; {} samples)",
            rss.len()
        ),
        rss.len() >= 6 && last_peak <= first_peak * 1.10 + 8.0,
    ));

    let ok = checks.iter().all(|(_, ok)| *ok);
    for (what, held) in &checks {
        let _ = writeln!(out, "- {} {what}", if *held { "ok:" } else { "**FAILED**:" });
    }
    (out, ok)
}
