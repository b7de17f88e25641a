use portcullis_e2e::{Backend, PASSWORD, TestApp, logs};
use serde_json::json;

async fn no_password_code_or_token_reaches_the_logs(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let unusual = "unusual secret phrase 7f3a9c";
    app.register("log@example.com", unusual).await;
    let code = app.code("log@example.com", 1).await;
    app.post("/api/v1/auth/verify-email", json!({"email": "log@example.com", "code": "000000"})).await;
    assert_eq!(
        app.post("/api/v1/auth/verify-email", json!({"email": "log@example.com", "code": code})).await.status,
        200
    );
    app.login("log@example.com", "a wrong guess 4b2e91").await;
    let ok = app.login("log@example.com", unusual).await;
    assert_eq!(ok.status, 200);
    let access = ok.body["access_token"].as_str().unwrap().to_owned();
    let refresh = ok.body["refresh_token"].as_str().unwrap().to_owned();
    app.get("/api/v1/auth/login-history?limit=5", Some(&access)).await;
    app.post("/api/v1/auth/login", json!({"email": "log@example.com", "password": 1234567})).await;
    let alert = app.mails_to("log@example.com", 2).await[1].data.clone();
    let alert_token = alert.split("token=").nth(1).unwrap().split_whitespace().next().unwrap().to_owned();

    let logs = logs::captured();
    assert!(logs.contains("request finished"), "the capture works");
    for secret in [unusual, "a wrong guess 4b2e91", &access, &refresh, &alert_token, PASSWORD] {
        assert!(!logs.contains(secret), "a secret reached the logs: {secret}");
    }
    // Short numbers can occur by chance inside other numbers; look for them standing alone.
    for secret in [code.as_str(), "1234567"] {
        assert!(!logs::contains_number(&logs, secret), "a secret reached the logs: {secret}");
    }
}

portcullis_e2e::on_both_backends!(no_password_code_or_token_reaches_the_logs,);
