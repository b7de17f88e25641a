//! Every audit entry says where and on what a sign-in happened.

use portcullis_e2e::{Backend, PASSWORD, TestApp};
use serde_json::json;

const FIREFOX_LINUX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";

async fn login_from(app: &TestApp, ip: &str, user_agent: &str, password: &str) -> portcullis_e2e::Resp {
    let body = json!({"email": "geo@example.com", "password": password});
    app.call("POST", "/api/v1/auth/login", Some(body), None, &[("X-Forwarded-For", ip), ("User-Agent", user_agent)])
        .await
}

async fn history_shows_the_place_and_the_device(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.server.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]).await;
    app.verified_login("geo@example.com").await;
    let ok = login_from(&app, "81.2.69.142", FIREFOX_LINUX, PASSWORD).await;
    assert_eq!(ok.status, 200, "{ok:?}");
    let geo = &ok.body["data"]["last_login_geolocation"];
    assert_eq!(geo["country_code"], "GB");
    assert_eq!(geo["country"], "United Kingdom");
    assert_eq!(geo["region"], "England");
    assert_eq!(geo["city"], "London");
    assert_eq!(geo["timezone"], "Europe/London");
    assert!((geo["latitude"].as_f64().unwrap() - 51.5142).abs() < 1e-9);
    assert!((geo["longitude"].as_f64().unwrap() + 0.0931).abs() < 1e-9);
    login_from(&app, "89.160.20.112", IPHONE, "not the password at all")
        .await
        .assert_problem(401, "INVALID_CREDENTIALS");

    let token = ok.body["access_token"].as_str().unwrap();
    let h = app.get("/api/v1/auth/login-history", Some(token)).await;
    let entries = h.body["data"]["history"].as_array().unwrap();
    let failure = &entries[0];
    assert_eq!(failure["ip_address"], "89.160.20.112");
    assert_eq!(failure["location"]["city"], "Linköping");
    assert_eq!(failure["device"]["browser"], "Mobile Safari");
    assert_eq!(failure["device"]["os"], "iOS");
    assert_eq!(failure["device"]["device_type"], "mobile");
    let success = &entries[1];
    assert_eq!(success["location"]["city"], "London");
    assert_eq!(success["device"]["browser"], "Firefox");
    assert_eq!(success["device"]["browser_version"].as_str().map(|v| v.starts_with("128")), Some(true));
    assert_eq!(success["device"]["os"], "Linux");
    assert_eq!(success["device"]["device_type"], "desktop");

    // The alert says the same.
    let mails = app.mails_to("geo@example.com", 3).await;
    let alert = &mails[2].data;
    assert!(alert.contains("London") && alert.contains("Firefox") && alert.contains("81.2.69.142"), "{alert}");
}

async fn private_addresses_have_no_location(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.server.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]).await;
    app.verified_login("geo@example.com").await;
    let r = login_from(&app, "10.1.2.3", FIREFOX_LINUX, PASSWORD).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["data"]["last_login_geolocation"], serde_json::Value::Null);
}

portcullis_e2e::on_both_backends!(history_shows_the_place_and_the_device, private_addresses_have_no_location);
