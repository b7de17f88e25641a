//! Section 10, webhooks, against a real HTTP receiver started in the test: delivery with
//! Standard Webhooks signatures (checked by the reference implementation), retries, 410,
//! a hung receiver, rotation, SSRF refusals, and several instances on one database.

use std::collections::HashSet;
use std::time::Duration;

use futures_util::future::join_all;
use portcullis_e2e::{Backend, PASSWORD, Resp, TestApp};
use portcullis_webhook_http::test_receiver::{Behaviour, ReceivedRequest, Receiver};
use serde_json::{Value, json};

/// Test settings: the receiver listens on loopback over http, so both are allowed; the
/// worker looks for due deliveries every 20 ms.
async fn app(backend: Backend) -> TestApp {
    app_with(backend, |_| {}).await
}

async fn app_with(backend: Backend, configure: impl FnOnce(&mut portcullis_server::config::Settings)) -> TestApp {
    TestApp::spawn_with(backend, |s| {
        s.webhooks.allow_http = true;
        s.webhooks.allowed_private_cidrs = vec!["127.0.0.0/8".parse().unwrap()];
        s.webhooks.poll_interval_ms = 20;
        s.webhooks.timeout_secs = 2;
        s.limits.requests_per_ip_per_minute = 1_000;
        configure(s);
    })
    .await
}

async fn subscribe(app: &TestApp, admin: &str, url: &str, events: &[&str]) -> Resp {
    app.call(
        "POST",
        "/api/v1/admin/webhooks",
        Some(json!({"url": url, "events": events, "description": "siem"})),
        Some(admin),
        &[],
    )
    .await
}

/// Verifies `request` with the reference implementation under `secret`.
fn verify(secret: &str, request: &ReceivedRequest) -> Result<(), standardwebhooks::WebhookError> {
    let mut headers = http::HeaderMap::new();
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        if let Some(value) = request.header(name) {
            headers.insert(name, value.parse().unwrap());
        }
    }
    standardwebhooks::Webhook::new(secret).unwrap().verify(&request.body, &headers)
}

fn body(request: &ReceivedRequest) -> Value {
    serde_json::from_slice(&request.body).unwrap()
}

async fn deliveries(app: &TestApp, admin: &str, id: &str, query: &str) -> Resp {
    app.get(&format!("/api/v1/admin/webhooks/{id}/deliveries{query}"), Some(admin)).await
}

/// Polls the deliveries list until `check` holds (the worker runs in the background).
async fn wait_for_deliveries(app: &TestApp, admin: &str, id: &str, check: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..200 {
        let r = deliveries(app, admin, id, "").await;
        assert_eq!(r.status, 200, "{r:?}");
        if check(&r.body) {
            return r.body;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("deliveries never matched: {:?}", deliveries(app, admin, id, "").await.body);
}

async fn a_sign_in_is_delivered_signed_to_a_subscribed_receiver(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = app(backend).await;
    let admin = app.admin_token("admin@example.com").await;
    let created = subscribe(&app, &admin, &receiver.url(), &["auth.login.*", "user.*"]).await;
    assert_eq!(created.status, 201, "{created:?}");
    let secret = created.body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{created:?}");
    assert_eq!(created.body["events"], json!(["auth.login.*", "user.*"]));
    let id = created.body["id"].as_str().unwrap().to_owned();
    // The secret is shown once: no read carries it.
    let shown = app.get(&format!("/api/v1/admin/webhooks/{id}"), Some(&admin)).await;
    assert_eq!(shown.status, 200);
    assert!(!shown.text.contains(&secret[6..]) && shown.body.get("secret").is_none(), "{shown:?}");

    let login = app.verified_login("laura@example.com").await;
    let user_id = login.body["data"]["id"].as_str().unwrap().to_owned();
    receiver.wait_for(1, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let received = receiver.requests();
    // Laura's sign-in, nothing else: her registration and verification are not subscribed,
    // and the admin signed in before the endpoint existed.
    assert_eq!(received.len(), 1, "{received:?}");
    let laura = received.iter().map(body).find(|b| b["data"]["user_id"] == json!(user_id)).expect("laura's event");
    assert_eq!(laura["type"], "auth.login.success");
    assert!(laura["id"].as_str().unwrap().starts_with("evt_"));
    assert!(laura["timestamp"].as_str().unwrap().ends_with('Z'));
    for key in ["audit_id", "ip_address", "device", "location", "metadata"] {
        assert!(laura["data"].get(key).is_some(), "{key} missing in {laura}");
    }
    assert_eq!(laura["data"]["ip_address"], "127.0.0.1");
    for request in &received {
        verify(&secret, request).expect("the reference implementation accepts our signature");
        assert_eq!(request.header("webhook-id"), body(request)["id"].as_str());
        assert_eq!(request.header("content-type"), Some("application/json"));
        let mut tampered = request.clone();
        tampered.body.push(b' ');
        assert!(verify(&secret, &tampered).is_err(), "a changed body must not verify");
    }
    assert!(verify("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", &received[0]).is_err(), "another secret");
    let text = received.iter().map(|r| String::from_utf8_lossy(&r.body).into_owned()).collect::<String>();
    assert!(!text.contains(PASSWORD) && !text.contains("access_token") && !text.contains("refresh_token"), "{text}");

    let listed = wait_for_deliveries(&app, &admin, &id, |b| {
        b["total_count"] == 1 && b["deliveries"][0]["status"] == "delivered"
    })
    .await;
    let first = &listed["deliveries"][0];
    assert_eq!(first["attempts"], 1);
    assert_eq!(first["last_response_code"], 204);
    assert_eq!(first["type"], "auth.login.success");
    assert!(first["event_id"].as_str().unwrap().starts_with("evt_"));
    assert!(first["next_attempt_at"].is_null());
    // The admin action itself is audited (and would be an event for an `admin.*` subscriber).
    let audit = app.get("/api/v1/admin/audit-log?action=admin.webhook.created", Some(&admin)).await;
    assert_eq!(audit.body["data"]["total_count"], 1, "{audit:?}");
}

async fn failures_are_retried_and_a_410_turns_the_endpoint_off(backend: Backend) {
    let receiver = Receiver::start().await;
    receiver.set_behaviour(Behaviour::Status { status: 500, retry_after: None });
    let app = app(backend).await;
    let admin = app.admin_token("admin@example.com").await;
    let created = subscribe(&app, &admin, &receiver.url(), &["auth.logout"]).await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    let user = app.verified_login("leaving@example.com").await.body["access_token"].as_str().unwrap().to_owned();
    app.call("POST", "/api/v1/auth/logout", None, Some(&user), &[]).await;
    let listed = wait_for_deliveries(&app, &admin, &id, |b| b["deliveries"][0]["attempts"] == 1).await;
    let delivery = &listed["deliveries"][0];
    assert_eq!(delivery["status"], "pending", "{listed}");
    assert_eq!(delivery["last_response_code"], 500);
    assert!(delivery["next_attempt_at"].is_string(), "the next try is scheduled: {listed}");
    let failed_once = receiver.requests();
    assert_eq!(failed_once.len(), 1);

    // The admin sends it again now; the receiver is gone for good.
    receiver.set_behaviour(Behaviour::Status { status: 410, retry_after: None });
    let delivery_id = delivery["id"].as_i64().unwrap();
    let retried = app
        .call("POST", &format!("/api/v1/admin/webhooks/{id}/deliveries/{delivery_id}/retry"), None, Some(&admin), &[])
        .await;
    assert_eq!(retried.status, 202, "{retried:?}");
    let listed = wait_for_deliveries(&app, &admin, &id, |b| {
        b["deliveries"].as_array().unwrap().iter().any(|d| d["id"] == json!(delivery_id) && d["status"] == "failed")
    })
    .await;
    let again = receiver.requests();
    assert_eq!(again[1].header("webhook-id"), failed_once[0].header("webhook-id"), "same id on every try");
    let failed =
        listed["deliveries"].as_array().unwrap().iter().find(|d| d["id"] == json!(delivery_id)).unwrap().clone();
    assert_eq!((failed["attempts"].clone(), failed["last_response_code"].clone()), (json!(2), json!(410)));
    let endpoint = app.get(&format!("/api/v1/admin/webhooks/{id}"), Some(&admin)).await;
    assert_eq!(
        (endpoint.body["enabled"].clone(), endpoint.body["disabled_reason"].clone()),
        (json!(false), json!("gone"))
    );
    // Off: a new event is not queued for it.
    let before = deliveries(&app, &admin, &id, "").await.body["total_count"].clone();
    let user = app.login("leaving@example.com", PASSWORD).await.body["access_token"].as_str().unwrap().to_owned();
    app.call("POST", "/api/v1/auth/logout", None, Some(&user), &[]).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(deliveries(&app, &admin, &id, "").await.body["total_count"], before);
    // The kept failure is listed by status.
    let failed_only = deliveries(&app, &admin, &id, "?status=failed").await;
    assert!(failed_only.body["deliveries"].as_array().unwrap().iter().all(|d| d["status"] == "failed"));
    deliveries(&app, &admin, &id, "?status=lost").await.assert_problem(400, "VALIDATION_ERROR");
}

async fn a_hung_receiver_never_holds_a_sign_in(backend: Backend) {
    let receiver = Receiver::start().await;
    receiver.set_behaviour(Behaviour::Hang);
    // Tries would hang for 30 s: longer than this whole test.
    let app = app_with(backend, |s| s.webhooks.timeout_secs = 30).await;
    let admin = app.admin_token("admin@example.com").await;
    let id = subscribe(&app, &admin, &receiver.url(), &["auth.*"]).await.body["id"].as_str().unwrap().to_owned();
    app.verified_login("hung@example.com").await;
    // Deliveries are hanging in the receiver now...
    let hanging = receiver.wait_for(1, Duration::from_secs(10)).await.len();
    assert!(hanging >= 1);
    // ...and sign-ins go on answering, each queueing one more event behind them.
    let logins = join_all((0..5).map(|_| app.login("hung@example.com", PASSWORD))).await;
    assert!(logins.iter().all(|r| r.status == 200), "{logins:?}");
    // No try has ended yet (each would end only at the 30 s timeout): the sign-ins answered
    // while every delivery was still hanging, so none of them waited for one.
    let listed = app.get(&format!("/api/v1/admin/webhooks/{id}/deliveries?limit=100"), Some(&admin)).await;
    let deliveries = listed.body["deliveries"].as_array().unwrap();
    assert!(deliveries.len() >= 8, "{listed:?}");
    assert!(deliveries.iter().all(|d| d["attempts"] == 0 && d["status"] == "pending"), "{listed:?}");
    let more = receiver.wait_for(hanging + 5, Duration::from_secs(10)).await;
    assert!(more.len() >= hanging + 5, "every event is tried in parallel, none waits behind the hung ones");
    assert_eq!(app.get("/health/ready", None).await.status, 200);
}

async fn a_rotation_signs_with_both_secrets(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = app(backend).await;
    let admin = app.admin_token("admin@example.com").await;
    let created = subscribe(&app, &admin, &receiver.url(), &["webhook.test"]).await;
    let (id, old) =
        (created.body["id"].as_str().unwrap().to_owned(), created.body["secret"].as_str().unwrap().to_owned());
    let rotated =
        app.call("POST", &format!("/api/v1/admin/webhooks/{id}/rotate-secret"), None, Some(&admin), &[]).await;
    assert_eq!(rotated.status, 200, "{rotated:?}");
    let new = rotated.body["secret"].as_str().unwrap().to_owned();
    assert_ne!(old, new);
    assert!(rotated.body["previous_secret_expires_at"].is_string());
    let test = app.call("POST", &format!("/api/v1/admin/webhooks/{id}/test"), None, Some(&admin), &[]).await;
    assert_eq!(test.status, 202, "{test:?}");
    assert_eq!(test.body["type"], "webhook.test");
    let received = receiver.wait_for(1, Duration::from_secs(10)).await;
    let request = &received[0];
    assert_eq!(request.header("webhook-signature").unwrap().split(' ').count(), 2, "{request:?}");
    verify(&old, request).expect("receivers still on the old secret accept it");
    verify(&new, request).expect("receivers on the new secret accept it");
    assert_eq!(body(request)["type"], "webhook.test");
    assert_eq!(body(request)["data"]["webhook_id"], json!(id));
}

async fn private_and_plain_http_targets_are_refused(backend: Backend) {
    let receiver = Receiver::start().await;
    // The defaults: https only, public addresses only.
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token("admin@example.com").await;
    let port = receiver.addr().port();
    for url in [
        format!("http://93.184.215.14:{port}/hook"),
        format!("https://127.0.0.1:{port}/hook"),
        format!("https://localhost:{port}/hook"),
        "https://169.254.169.254/latest/meta-data".to_owned(),
        "https://[::1]/hook".to_owned(),
        "https://10.0.0.8/hook".to_owned(),
        "https://user:pass@example.com/hook".to_owned(),
        "not a url".to_owned(),
    ] {
        let r = subscribe(&app, &admin, &url, &["auth.*"]).await;
        r.assert_problem(400, "VALIDATION_ERROR");
        assert_eq!(r.body["errors"][0]["field"], "url", "{url}: {r:?}");
    }
    // A public address literal needs no DNS (these machines have none outside).
    let public = "https://93.184.215.14/hook";
    let r = subscribe(&app, &admin, public, &["auth.nothing"]).await;
    r.assert_problem(400, "VALIDATION_ERROR");
    assert_eq!(r.body["errors"][0]["field"], "events.0", "{r:?}");
    subscribe(&app, &admin, public, &[]).await.assert_problem(400, "VALIDATION_ERROR");
    let ok = subscribe(&app, &admin, public, &["auth.*"]).await;
    assert_eq!(ok.status, 201, "a public https target is accepted: {ok:?}");
    assert_eq!(receiver.count(), 0);
    // Without the permission: 403 before anything else; an unknown id: 404.
    let user = app.verified_login("plain@example.com").await.body["access_token"].as_str().unwrap().to_owned();
    subscribe(&app, &user, public, &["auth.*"]).await.assert_problem(403, "FORBIDDEN");
    app.get("/api/v1/admin/webhooks", Some(&user)).await.assert_problem(403, "FORBIDDEN");
    app.get("/api/v1/admin/webhooks/nope", Some(&admin)).await.assert_problem(404, "NOT_FOUND");
    let unknown = "/api/v1/admin/webhooks/01890000-0000-7000-8000-000000000000/deliveries/1/retry";
    app.call("POST", unknown, None, Some(&admin), &[]).await.assert_problem(404, "NOT_FOUND");
}

async fn each_delivery_is_sent_once_by_two_instances(backend: Backend) {
    let receiver = Receiver::start().await;
    let a = app(backend).await;
    let b = a.another_instance().await;
    let admin = a.admin_token("admin@example.com").await;
    subscribe(&a, &admin, &receiver.url(), &["auth.login.success"]).await;
    a.verified_login("pair@example.com").await;
    let instance = |i: usize| if i.is_multiple_of(2) { &a } else { &b };
    let logins = join_all((0..20).map(|i| instance(i).login("pair@example.com", PASSWORD))).await;
    assert!(logins.iter().all(|r| r.status == 200), "{logins:?}");
    let received = receiver.wait_for(21, Duration::from_secs(15)).await;
    // Give a double send time to show up.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let received = if receiver.count() > received.len() { receiver.requests() } else { received };
    let ids: HashSet<String> = received.iter().filter_map(|r| r.header("webhook-id").map(str::to_owned)).collect();
    assert_eq!((received.len(), ids.len()), (21, 21), "every event once, none twice");
}

async fn a_queued_delivery_outlives_the_instance_that_queued_it(backend: Backend) {
    let receiver = Receiver::start().await;
    // An instance whose worker looked once at start and then sleeps for an hour: it queues,
    // never sends, like one killed right after the commit.
    let a = app_with(backend, |s| s.webhooks.poll_interval_ms = 3_600_000).await;
    let admin = a.admin_token("admin@example.com").await;
    subscribe(&a, &admin, &receiver.url(), &["auth.logout"]).await;
    let user = a.verified_login("queued@example.com").await.body["access_token"].as_str().unwrap().to_owned();
    a.call("POST", "/api/v1/auth/logout", None, Some(&user), &[]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.count(), 0, "nothing sent yet");
    // Another process on the same database takes it.
    let mut settings = a.settings.clone();
    settings.webhooks.poll_interval_ms = 20;
    let _b = a.with_settings(settings).await;
    let received = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(received.len(), 1);
    assert_eq!(body(&received[0])["type"], "auth.logout");
}

async fn endpoints_are_listed_changed_and_removed(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = app(backend).await;
    let admin = app.admin_token("admin@example.com").await;
    let id = subscribe(&app, &admin, &receiver.url(), &["auth.logout"]).await.body["id"].as_str().unwrap().to_owned();
    let listed = app.get("/api/v1/admin/webhooks", Some(&admin)).await;
    assert_eq!(listed.body["webhooks"].as_array().unwrap().len(), 1, "{listed:?}");
    let path = format!("/api/v1/admin/webhooks/{id}");
    let patched = app
        .call("PATCH", &path, Some(json!({"events": ["*"], "enabled": false, "description": "all"})), Some(&admin), &[])
        .await;
    assert_eq!(patched.status, 200, "{patched:?}");
    assert_eq!((patched.body["events"].clone(), patched.body["enabled"].clone()), (json!(["*"]), json!(false)));
    app.call("PATCH", &path, Some(json!({"url": "ftp://example.com"})), Some(&admin), &[])
        .await
        .assert_problem(400, "VALIDATION_ERROR");
    let on = app.call("PATCH", &path, Some(json!({"enabled": true})), Some(&admin), &[]).await;
    assert_eq!(on.body["enabled"], true);
    let removed = app.call("DELETE", &path, None, Some(&admin), &[]).await;
    assert_eq!(removed.status, 200, "{removed:?}");
    app.get(&path, Some(&admin)).await.assert_problem(404, "NOT_FOUND");
    let audit = app.get("/api/v1/admin/audit-log?action=admin.webhook.updated", Some(&admin)).await;
    // Two changes made, the refused one not audited.
    assert_eq!(audit.body["data"]["total_count"], 2, "{audit:?}");
}

portcullis_e2e::on_both_backends!(
    a_sign_in_is_delivered_signed_to_a_subscribed_receiver,
    failures_are_retried_and_a_410_turns_the_endpoint_off,
    a_hung_receiver_never_holds_a_sign_in,
    a_rotation_signs_with_both_secrets,
    private_and_plain_http_targets_are_refused,
    each_delivery_is_sent_once_by_two_instances,
    a_queued_delivery_outlives_the_instance_that_queued_it,
    endpoints_are_listed_changed_and_removed,
);
