//! Section 11, deleted accounts: kept for `accounts.deleted_retention_days` (restorable),
//! then erased by the purge job, which every instance runs; or erased at once with
//! `DELETE /admin/users/{id}?purge=true`. On both stores, and two instances on one database.

use futures_util::future::join_all;
use portcullis_e2e::{Backend, PASSWORD, TestApp};
use serde_json::{Value, json};

async fn audit_of(app: &TestApp, admin: &str, query: &str) -> Value {
    let r = app.get(&format!("/api/v1/admin/audit-log?limit=100&{query}"), Some(admin)).await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body["data"].clone()
}

async fn id_of(app: &TestApp, token: &str) -> String {
    app.get("/api/v1/users/me", Some(token)).await.body["data"]["id"].as_str().unwrap().to_owned()
}

fn token_of(r: &portcullis_e2e::Resp) -> String {
    r.body["access_token"].as_str().unwrap().to_owned()
}

/// Every entry about `id` carries no IP, user agent, device or location.
fn assert_scrubbed(entries: &[Value]) {
    for e in entries {
        assert!(e["ip_address"].is_null() && e["user_agent"].is_null() && e["location"].is_null(), "{e}");
        assert!(e["device"]["browser"].is_null() && e["fingerprint"].is_null(), "{e}");
    }
}

async fn a_deleted_account_is_restorable_then_erased_and_its_address_freed(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.accounts.deleted_retention_days = 0).await;
    let admin = app.admin_token("admin@example.com").await;
    let login = app.verified_login("gone@example.com").await;
    let id = id_of(&app, &token_of(&login)).await;
    let path = format!("/api/v1/admin/users/{id}");

    assert_eq!(app.call("DELETE", &path, None, Some(&admin), &[]).await.status, 200);
    // While kept, the address stays taken: a registration answers the same and does nothing.
    assert_eq!(app.register("gone@example.com", PASSWORD).await.status, 201);
    assert_eq!(app.stored_user("gone@example.com").await.unwrap().id.to_string(), id);
    let restored = app.call("POST", &format!("{path}/restore"), None, Some(&admin), &[]).await;
    assert_eq!(restored.status, 200, "{restored:?}");
    assert_eq!(app.purge_deleted_accounts().await, 0, "a restored account is kept");
    assert_eq!(app.login("gone@example.com", PASSWORD).await.status, 200);

    assert_eq!(app.call("DELETE", &path, None, Some(&admin), &[]).await.status, 200);
    assert_eq!(app.purge_deleted_accounts().await, 1, "0 days of retention: erased at the next round");
    assert_eq!(app.purge_deleted_accounts().await, 0);

    app.get(&path, Some(&admin)).await.assert_problem(404, "NOT_FOUND");
    let kept = audit_of(&app, &admin, &format!("user_id={id}")).await;
    let entries = kept["entries"].as_array().unwrap();
    let actions: Vec<&str> = entries.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions[0], "user.account.purged", "{actions:?}");
    assert!(actions.contains(&"auth.login.success") && actions.contains(&"admin.user.deleted"), "{actions:?}");
    assert_scrubbed(entries);
    assert_eq!(entries[0]["metadata"]["by"], "retention");

    // The address is free: a new account, with a new id, gets a code.
    assert_eq!(app.register("gone@example.com", PASSWORD).await.status, 201);
    let fresh = app.stored_user("gone@example.com").await.expect("a new account");
    assert_ne!(fresh.id.to_string(), id);
    let mails = app.mails_to("gone@example.com", 1).await;
    assert!(mails.iter().any(|m| m.data.contains("verification code") || portcullis_e2e::code_in(&m.data).is_some()));
}

async fn an_administrator_purges_an_account_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token("admin@example.com").await;
    let login = app.verified_login("purged@example.com").await;
    let (token, refresh) = (token_of(&login), login.body["refresh_token"].as_str().unwrap().to_owned());
    let id = id_of(&app, &token).await;
    let path = format!("/api/v1/admin/users/{id}");

    app.call("DELETE", &format!("{path}?purge=maybe"), None, Some(&admin), &[])
        .await
        .assert_problem(400, "VALIDATION_ERROR");
    let user_token = token_of(&app.login("purged@example.com", PASSWORD).await);
    let r = app.call("DELETE", &format!("{path}?purge=true"), None, Some(&user_token), &[]).await;
    r.assert_problem(403, "FORBIDDEN");

    let r = app.call("DELETE", &format!("{path}?purge=true"), None, Some(&admin), &[]).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!((&r.body["success"], &r.body["data"]["id"]), (&json!(true), &json!(id)));
    assert!(r.body["data"]["purged_at"].is_string());

    app.get("/api/v1/users/me", Some(&token)).await.assert_problem(401, "UNAUTHORIZED");
    app.post("/api/v1/auth/refresh", json!({"refresh_token": refresh})).await.assert_problem(401, "UNAUTHORIZED");
    app.login("purged@example.com", PASSWORD).await.assert_problem(401, "INVALID_CREDENTIALS");
    app.call("DELETE", &format!("{path}?purge=true"), None, Some(&admin), &[]).await.assert_problem(404, "NOT_FOUND");
    let kept = audit_of(&app, &admin, &format!("user_id={id}")).await;
    let entries = kept["entries"].as_array().unwrap();
    assert_eq!(entries[0]["action"], "admin.user.purged");
    assert_eq!(entries[0]["metadata"]["was_deleted"], false);
    assert_scrubbed(entries);
    assert_eq!(app.register("purged@example.com", PASSWORD).await.status, 201);
    assert!(app.stored_user("purged@example.com").await.is_some(), "the address is free at once");
}

async fn two_instances_purging_at_once_erase_each_account_once(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.accounts.deleted_retention_days = 0).await;
    let other = app.another_instance().await;
    let admin = app.admin_token("admin@example.com").await;
    for n in 0..12 {
        let email = format!("user{n}@example.com");
        assert_eq!(app.register(&email, PASSWORD).await.status, 201);
        let id = app.stored_user(&email).await.unwrap().id;
        let r = app.call("DELETE", &format!("/api/v1/admin/users/{id}"), None, Some(&admin), &[]).await;
        assert_eq!(r.status, 200, "{r:?}");
    }

    let runs = (0..3).flat_map(|_| [app.purge_deleted_accounts(), other.purge_deleted_accounts()]);
    let erased: u64 = join_all(runs).await.into_iter().sum();

    assert_eq!(erased, 12);
    let purged = audit_of(&app, &admin, "action=user.account.purged").await;
    assert_eq!(purged["total_count"], 12, "one entry per account");
}

portcullis_e2e::on_both_backends!(
    a_deleted_account_is_restorable_then_erased_and_its_address_freed,
    an_administrator_purges_an_account_at_once,
    two_instances_purging_at_once_erase_each_account_once,
);
