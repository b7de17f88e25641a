//! Accounts with a long login history: registered, verified and signed in over HTTP, then
//! given `entries` audit entries each straight through the store (one commit per user).

use std::net::IpAddr;

use portcullis_domain::model::{AuditAction, Device, Email, Enrichment, NewAuditEntry, Timestamp};
use portcullis_domain::ports::{Change, Clock, SystemClock, UnitOfWork, UserRepository};
use portcullis_server::Settings;
use portcullis_store_diesel::{DbConfig, DieselStore};
use serde_json::json;

const PASSWORD: &str = "correct horse battery staple";

/// Seeds `bench{i}@example.com` for each `i` in `ids`; returns one access token per user.
pub async fn users_with_history(
    base: &str,
    settings: &Settings,
    ids: std::ops::Range<usize>,
    entries: usize,
) -> Result<Vec<String>, String> {
    let client = awc::Client::builder().timeout(std::time::Duration::from_secs(60)).finish();
    let store = DieselStore::connect(&DbConfig::new(settings.database.url.clone())).await.map_err(|e| e.to_string())?;
    let mut tokens = Vec::with_capacity(ids.len());
    for i in ids {
        let email = format!("bench{i}@example.com");
        post(&client, base, "/api/v1/auth/register", json!({"name": "Bench", "email": email, "password": PASSWORD}))
            .await?;
        // Mark verified directly: the code went to the log transport.
        let parsed = Email::parse(&email).map_err(|e| e.to_string())?;
        let user = store.user_by_email(&parsed).await.map_err(|e| e.to_string())?.ok_or("user missing")?;
        let now = SystemClock.now();
        let mut changes = vec![Change::MarkEmailVerified { user_id: user.id, at: now }];
        let ip: IpAddr = [81, 2, 69, 142].into();
        for n in 0..entries {
            let success = n % 4 != 0;
            let metadata = if success {
                json!({"method": "password", "remember_me": false})
            } else {
                json!({"reason": "invalid_password"})
            };
            changes.push(Change::AppendAudit(NewAuditEntry {
                user_id: Some(user.id),
                action: if success { AuditAction::LoginSuccess } else { AuditAction::LoginFailure },
                enrichment: Enrichment {
                    ip_address: ip,
                    user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0".to_owned()),
                    device: Device::default(),
                    location: None,
                },
                fingerprint: None,
                metadata: metadata.as_object().cloned().unwrap_or_default(),
                created_at: Timestamp::from_unix_millis(
                    now.unix_millis() - i64::try_from(entries - n).unwrap_or(0) * 60_000,
                ),
            }));
        }
        store.commit(changes).await.map_err(|e| e.to_string())?;
        let login = post(&client, base, "/api/v1/auth/login", json!({"email": email, "password": PASSWORD})).await?;
        let token = login["access_token"].as_str().ok_or("no token")?.to_owned();
        tokens.push(token);
    }
    Ok(tokens)
}

async fn post(
    client: &awc::Client,
    base: &str,
    path: &str,
    body: serde_json::Value,
) -> Result<serde_json::Value, String> {
    let mut res = client.post(format!("{base}{path}")).send_json(&body).await.map_err(|e| e.to_string())?;
    let bytes = res.body().await.map_err(|e| e.to_string())?;
    if !res.status().is_success() {
        return Err(format!("{path}: {} {}", res.status(), String::from_utf8_lossy(&bytes)));
    }
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}
