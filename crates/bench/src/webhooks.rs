//! Logins with a webhook receiver that never answers, subscribed to every `auth.*` event,
//! against logins with the endpoint turned off: the runs alternate on one server, so the
//! ratio compares like with like on this shared machine.

use std::fmt::Write as _;
use std::path::Path;

use portcullis_domain::model::{Email, Role, Roles};
use portcullis_domain::ports::{Change, Clock, SystemClock, UnitOfWork, UserRepository};
use portcullis_store_diesel::{DbConfig, DieselStore};
use portcullis_webhook_http::test_receiver::{Behaviour, Receiver};
use serde_json::json;

use crate::wrk::{Server, WrkRun, cpu_secs, drained, metrics, ms, run_wrk_now};

/// Connections of the compared runs.
const CONNECTIONS: usize = 16;
/// Runs per mode, alternating.
const PAIRS: usize = 3;

/// Environment a bench server needs for deliveries to a receiver on loopback over http.
pub(crate) const SERVER_ENV: [(&str, &str); 2] = [
    ("PORTCULLIS__WEBHOOKS__ALLOW_HTTP", "true"),
    ("PORTCULLIS__WEBHOOKS__ALLOWED_PRIVATE_CIDRS", "[\"127.0.0.0/8\"]"),
];

async fn call(
    method: &str,
    url: &str,
    token: Option<&str>,
    body: serde_json::Value,
) -> Result<serde_json::Value, String> {
    // A client per call: awc's pooled connector, shared across the wrk runs' minutes, has
    // been seen to report itself disconnected here.
    let client = awc::Client::builder().timeout(std::time::Duration::from_secs(60)).finish();
    let mut req = match method {
        "PATCH" => client.patch(url),
        _ => client.post(url),
    };
    if let Some(token) = token {
        req = req.insert_header(("Authorization", format!("Bearer {token}")));
    }
    let mut res = req.send_json(&body).await.map_err(|e| format!("{method} {url}: {e}"))?;
    let bytes = res.body().await.map_err(|e| e.to_string())?;
    if !res.status().is_success() {
        return Err(format!("{url}: {} {}", res.status(), String::from_utf8_lossy(&bytes)));
    }
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}

/// An administrator's token on `server`: `bench0` is granted `admin` through the store.
async fn admin_token(server: &Server, db_url: &str) -> Result<String, String> {
    let store = DieselStore::connect(&DbConfig::new(db_url.to_owned())).await.map_err(|e| e.to_string())?;
    let email = Email::parse("bench0@example.com").map_err(|e| e.to_string())?;
    let user = store.user_by_email(&email).await.map_err(|e| e.to_string())?.ok_or("bench0 missing")?;
    let roles = Roles::new(vec![Role::Admin]);
    store
        .commit(vec![Change::SetRoles { user_id: user.id, roles, at: SystemClock.now() }])
        .await
        .map_err(|e| e.to_string())?;
    let login = call(
        "POST",
        &format!("{}/api/v1/auth/login", server.base),
        None,
        json!({"email": "bench0@example.com", "password": crate::wrk::PASSWORD}),
    )
    .await?;
    Ok(login["access_token"].as_str().ok_or("no token")?.to_owned())
}

/// The Markdown subsection: login p50/p99 and server CPU per login with the hung endpoint
/// off and on, and the queue the hung receiver left behind.
pub(crate) async fn hung_receiver(
    server: &Server,
    dir: &Path,
    db_url: &str,
    login_url: &str,
    script: &str,
) -> Result<String, String> {
    let receiver = Receiver::start().await;
    receiver.set_behaviour(Behaviour::Hang);
    let token = admin_token(server, db_url).await?;
    let created = call(
        "POST",
        &format!("{}/api/v1/admin/webhooks", server.base),
        Some(&token),
        json!({"url": receiver.url(), "events": ["auth.*"], "description": "never answers"}),
    )
    .await?;
    let endpoint = format!("{}/api/v1/admin/webhooks/{}", server.base, created["id"].as_str().ok_or("no id")?);
    let mut off: Vec<(WrkRun, f64)> = Vec::new();
    let mut on: Vec<(WrkRun, f64)> = Vec::new();
    for _ in 0..PAIRS {
        for enabled in [false, true] {
            call("PATCH", &endpoint, Some(&token), json!({"enabled": enabled})).await?;
            drained(&server.base).await?;
            let before = cpu_secs(server.pid());
            let run = run_wrk_now(dir, login_url, script, CONNECTIONS, None)?;
            let logins = (run.requests_per_sec * crate::wrk::RUN_SECS as f64).max(1.0);
            let cpu_ms = (cpu_secs(server.pid()) - before) * 1e3 / logins;
            if enabled { on.push((run, cpu_ms)) } else { off.push((run, cpu_ms)) }
        }
    }
    let depth = metrics(&server.base, &["portcullis_webhook_queue_depth"]).await?.first().copied().unwrap_or(0.0);
    let hanging = receiver.count();
    call("PATCH", &endpoint, Some(&token), json!({"enabled": false})).await?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n#### Logins with a webhook receiver that never answers\n\nThe same server with an endpoint subscribed to \
         `auth.*` whose receiver accepts the connection and never answers (each try holds a worker slot for \
         the 10 s timeout; at most 8 of that endpoint's deliveries are in flight at once, the rest wait queued). {PAIRS} runs of {CONNECTIONS} connections with the endpoint off and on, \
         alternating. Medians of the runs; CPU is the server's (`/proc`), per login.\n\n\
         | endpoint | logins/s | p50 | p99 | non-2xx | server CPU per login |\n|---|---|---|---|---|---|"
    );
    for (label, runs) in [("off (no delivery)", &mut off), ("on, receiver hangs", &mut on)] {
        runs.sort_by_key(|a| a.0.p99);
        let (r, _) = &runs[runs.len() / 2];
        let mut cpu: Vec<f64> = runs.iter().map(|(_, c)| *c).collect();
        cpu.sort_by(f64::total_cmp);
        let errors: u64 = runs.iter().map(|(r, _)| r.non_2xx + r.socket_errors).sum();
        let _ = writeln!(
            out,
            "| {label} | {:.0} | {} | {} | {errors} | {:.1} ms |",
            r.requests_per_sec,
            ms(r.p50),
            ms(r.p99),
            cpu[cpu.len() / 2]
        );
    }
    let _ = writeln!(
        out,
        "\nAfter the runs the receiver held {hanging} requests it never answered and {depth:.0} deliveries were \
         pending (`portcullis_webhook_queue_depth`): the events wait in the queue, the logins do not.\n"
    );
    Ok(out)
}
