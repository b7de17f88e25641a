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
        let found = logs::number_in_context(&logs, secret);
        assert!(found.is_none(), "a secret reached the logs: {secret} in {found:?}");
    }
}

async fn no_refresh_token_reset_code_or_alert_token_reaches_the_logs(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let email = "recover@example.com";
    let login = app.verified_login(email).await;
    let first_refresh = login.body["refresh_token"].as_str().unwrap().to_owned();
    let refreshed = app.post("/api/v1/auth/refresh", json!({"refresh_token": first_refresh})).await;
    assert_eq!(refreshed.status, 200, "{refreshed:?}");
    let next_refresh = refreshed.body["refresh_token"].as_str().unwrap().to_owned();
    let next_access = refreshed.body["access_token"].as_str().unwrap().to_owned();

    // The "Not you?" link, opened (token in the query string) and used (token in a form).
    let alert = app.mails_to(email, 2).await[1].data.clone();
    let alert_token = alert.split("token=").nth(1).unwrap().split_whitespace().next().unwrap().to_owned();
    let page = app.get(&format!("/api/v1/auth/sessions/revoke-from-alert?token={alert_token}"), None).await;
    assert_eq!(page.status, 200);
    let form = format!("token={alert_token}").into_bytes();
    let r = app.raw("/api/v1/auth/sessions/revoke-from-alert", Some("application/x-www-form-urlencoded"), form).await;
    assert_eq!(r.status, 200);
    let alert_code = app.code(email, 3).await;

    // Recovery with a second code, a wrong try first; then a change and the account closed.
    app.age_rate_events(3600).await;
    assert_eq!(app.post("/api/v1/auth/forgot-password", json!({"email": email})).await.status, 200);
    let reset_code = app.code(email, 4).await;
    let recovered = "recovered secret phrase 5d1c7e";
    let wrong = if reset_code == "000000" { "111111" } else { "000000" };
    let reset = |code: &str, password: &str| {
        app.post("/api/v1/auth/reset-password", json!({"email": email, "code": code, "new_password": password}))
    };
    reset(wrong, recovered).await;
    assert_eq!(reset(&reset_code, recovered).await.status, 200);
    let access = app.login(email, recovered).await.body["access_token"].as_str().unwrap().to_owned();
    let changed = "changed secret phrase 0e8b2f";
    let wrong_current = "a wrong current one 6a0d33";
    let body = json!({"current_password": wrong_current, "new_password": changed});
    app.call("POST", "/api/v1/auth/change-password", Some(body), Some(&access), &[]).await;
    let body = json!({"current_password": recovered, "new_password": changed});
    assert_eq!(app.call("POST", "/api/v1/auth/change-password", Some(body), Some(&access), &[]).await.status, 200);
    let body = json!({"password": changed});
    assert_eq!(app.call("POST", "/api/v1/users/me/deactivate", Some(body), Some(&access), &[]).await.status, 200);

    let logs = logs::captured();
    assert!(logs.contains("request finished"), "the capture works");
    let secrets =
        [&first_refresh, &next_refresh, &next_access, &alert_token, &access, recovered, changed, wrong_current];
    for secret in secrets {
        assert!(!logs.contains(secret), "a secret reached the logs: {secret}");
    }
    for secret in [alert_code.as_str(), reset_code.as_str()] {
        let found = logs::number_in_context(&logs, secret);
        assert!(found.is_none(), "a secret reached the logs: {secret} in {found:?}");
    }
}

/// `url` with `password` put into its user-info (`postgres://u@h/d` -> `postgres://u:pw@h/d`).
fn with_password(url: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (user, host) = rest.split_once('@').unwrap();
    let user = user.split(':').next().unwrap();
    format!("{scheme}://{user}:{password}@{host}")
}

async fn database_url_passwords_never_reach_logs_or_errors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // A mistyped scheme refuses the start, naming the scheme and not the password.
    let mut mistyped = app.settings.clone();
    mistyped.database.url = "postgress://app:typo-pw-51c3@127.0.0.1:5432/portcullis".to_owned();
    let err = match portcullis_server::Application::build(&mistyped).await {
        Ok(_) => panic!("a postgress:// URL must not start a server"),
        Err(e) => format!("{e} {e:?}"),
    };
    assert!(err.contains("postgress") && !err.contains("typo-pw-51c3"), "{err}");
    if backend == Backend::Postgres {
        // A real server reached with a password (trust authentication ignores it).
        let mut settings = app.settings.clone();
        settings.database.url = with_password(&settings.database.url, "db-pw-8e2d");
        let with_pw = app.with_settings(settings).await;
        with_pw.verified_login("pw@example.com").await;
    }
    let logs = logs::captured();
    assert!(logs.contains("request finished"), "the capture works");
    for secret in ["typo-pw-51c3", "db-pw-8e2d"] {
        assert!(!logs.contains(secret), "a database password reached the logs: {secret}");
    }
}

portcullis_e2e::on_both_backends!(
    database_url_passwords_never_reach_logs_or_errors,
    no_password_code_or_token_reaches_the_logs,
    no_refresh_token_reset_code_or_alert_token_reaches_the_logs,
);
