//! A database that stops answering: 503 within the configured budget, never a hang or a 500,
//! and the same server serves again once the database is back.

use std::time::{Duration, Instant};

use portcullis_e2e::backend::postgres_available;
use portcullis_e2e::proxy::TcpProxy;
use portcullis_e2e::{Backend, TestApp};
use serde_json::json;

/// `host:port` of a `postgres://user@host:port/db` URL.
fn server_of(url: &str) -> &str {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = after_scheme.split('/').next().unwrap_or_default();
    authority.rsplit_once('@').map_or(authority, |(_, host_port)| host_port)
}

#[actix_web::test]
async fn an_unreachable_database_answers_503_and_the_server_recovers() {
    if !postgres_available().await {
        return;
    }
    let app = TestApp::spawn_with(Backend::Postgres, |s| {
        s.database.acquire_timeout_ms = 1_000;
        s.database.query_timeout_ms = 2_000;
    })
    .await;
    // The first instance migrated the database directly; a second one reaches it through a
    // proxy, so only that path can be cut, and the shared server is never touched.
    let host_port = server_of(&app.settings.database.url).to_owned();
    let target = tokio::net::lookup_host(&host_port).await.expect("resolve").next().expect("an address");
    let proxy = TcpProxy::start(target).await.expect("proxy");
    let mut settings = app.settings.clone();
    settings.database.url = settings.database.url.replacen(&host_port, &proxy.addr().to_string(), 1);
    let cut_off = app.with_settings(settings).await;

    let token = cut_off.verified_login("cut@example.com").await.body["access_token"].as_str().unwrap().to_owned();
    proxy.cut();
    let budget = Duration::from_millis(1_000 + 2_000);
    for (method, path, body, token) in [
        ("GET", "/health/ready", None, None),
        ("POST", "/api/v1/auth/login", Some(json!({"email": "cut@example.com", "password": "whatever it is"})), None),
        ("GET", "/api/v1/auth/login-history", None, Some(token.as_str())),
        (
            "POST",
            "/api/v1/auth/register",
            Some(json!({"name": "N", "email": "n@example.com", "password": "correct horse battery staple"})),
            None,
        ),
    ] {
        let started = Instant::now();
        let r = cut_off.call(method, path, body, token, &[]).await;
        let took = started.elapsed();
        r.assert_problem(503, "SERVICE_UNAVAILABLE");
        assert!(r.header("retry-after").is_some(), "{path}");
        // Not a performance assertion: the bound is three budgets, there only to catch a hang.
        assert!(took < budget * 3, "{path} took {took:?}");
    }
    assert_eq!(cut_off.get("/health/live", None).await.status, 200, "the process itself is fine");

    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(15);
    while cut_off.get("/health/ready", None).await.status != 200 {
        assert!(Instant::now() < deadline, "the server did not recover");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(cut_off.get("/api/v1/auth/login-history", Some(&token)).await.status, 200);
    assert_eq!(cut_off.login("cut@example.com", portcullis_e2e::PASSWORD).await.status, 200);
}

#[actix_web::test]
async fn a_missing_geoip_database_leaves_locations_null_and_logins_working() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.server.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
        s.geoip.city_db = Some(std::path::PathBuf::from("/nonexistent/GeoLite2-City.mmdb"));
    })
    .await;
    let token = app.verified_login("nogeo@example.com").await.body["access_token"].as_str().unwrap().to_owned();
    let headers = [
        ("X-Forwarded-For", "81.2.69.142"),
        ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
    ];
    let body = json!({"email": "nogeo@example.com", "password": portcullis_e2e::PASSWORD});
    let r = app.call("POST", "/api/v1/auth/login", Some(body), None, &headers).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body["data"]["last_login_geolocation"].is_null(), "{r:?}");
    let h = app.get("/api/v1/auth/login-history", Some(&token)).await;
    let newest = &h.body["data"]["history"][0];
    assert_eq!(newest["ip_address"], "81.2.69.142", "{h:?}");
    assert!(newest["location"].is_null(), "{newest}");
    assert_eq!(newest["device"]["browser"], "Firefox", "the device is still parsed");
}
