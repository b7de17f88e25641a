use futures_util::future::join_all;
use portcullis_e2e::{Backend, PASSWORD, TestApp};
use serde_json::json;

async fn login_success_has_the_documented_shape_and_alerts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let r = app.verified_login("laura@example.com").await;
    let b = &r.body;
    assert_eq!(b["status"], "success");
    assert_eq!(b["message"], "User authenticated successfully.");
    assert!(b["access_token"].as_str().unwrap().starts_with("v4.local."));
    assert_eq!(b["token_type"], "Bearer");
    assert_eq!(b["expires_in"], 900);
    assert!(b["refresh_token"].as_str().unwrap().len() >= 32);
    let d = &b["data"];
    assert!(d["id"].as_str().unwrap().len() == 36);
    assert_eq!(d["name"], "Laura Boyle");
    assert_eq!(d["email"], "laura@example.com");
    assert_eq!(d["profile_picture"], serde_json::Value::Null);
    assert_eq!(d["account_status"], "active");
    assert_eq!(d["email_verified"], true);
    assert_eq!(d["last_login_geolocation"], serde_json::Value::Null, "loopback has no location");
    assert_eq!(d["deleted_at"], serde_json::Value::Null);
    for key in ["email_verified_at", "created_at", "updated_at"] {
        let t = d[key].as_str().unwrap();
        assert!(t.len() == 24 && t.ends_with('Z') && t.as_bytes()[19] == b'.', "{key}: {t}");
    }
    // New-sign-in security mail: device, location, IP, time and the one-click link.
    let mails = app.mails_to("laura@example.com", 2).await;
    let alert = &mails[1].data;
    assert!(alert.contains("New sign-in"), "{alert}");
    assert!(alert.contains("127.0.0.1"));
    assert!(alert.contains("http://portcullis.test/api/v1/auth/sessions/revoke-from-alert?token="));
    assert!(alert.to_lowercase().contains("password"));
}

async fn wrong_and_unknown_get_one_answer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.verified_login("k@example.com").await;
    let wrong = app.login("k@example.com", "wrong password entirely").await;
    let unknown = app.login("ghost@example.com", "wrong password entirely").await;
    wrong.assert_problem(401, "INVALID_CREDENTIALS");
    unknown.assert_problem(401, "INVALID_CREDENTIALS");
    assert_eq!(wrong.body, unknown.body);
    assert_eq!(wrong.header("www-authenticate"), None, "credentials, not a token, were wrong");
    // A short wrong password is simply wrong: login applies no policy.
    app.login("k@example.com", "x").await.assert_problem(401, "INVALID_CREDENTIALS");
}

async fn account_state_is_checked_only_after_a_right_password(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.verified_login("s@example.com").await;
    for (sqlite, postgres, code) in [
        ("UPDATE users SET status = 'deactivated'", "UPDATE users SET status = 'deactivated'", "ACCOUNT_DEACTIVATED"),
        ("UPDATE users SET status = 'suspended'", "UPDATE users SET status = 'suspended'", "ACCOUNT_SUSPENDED"),
        ("UPDATE users SET deleted_at = 1", "UPDATE users SET deleted_at = now()", "ACCOUNT_DELETED"),
    ] {
        app.sql(sqlite, postgres).await;
        app.login("s@example.com", PASSWORD).await.assert_problem(403, code);
        // A wrong password still gets 401: state is never revealed without the password.
        app.login("s@example.com", "not the right one at all").await.assert_problem(401, "INVALID_CREDENTIALS");
        app.sql_both("DELETE FROM rate_events").await;
    }
}

async fn lockout_after_five_failures_with_retry_after(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.verified_login("lock@example.com").await;
    for _ in 0..5 {
        app.login("lock@example.com", "wrong password entirely").await.assert_problem(401, "INVALID_CREDENTIALS");
    }
    let r = app.login("lock@example.com", PASSWORD).await;
    r.assert_problem(429, "LOGIN_ATTEMPTS_EXCEEDED");
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=1800).contains(&wait), "{wait}");
    // Unknown addresses lock the same way, so the 429 reveals nothing.
    for _ in 0..5 {
        app.login("ghost@example.com", "wrong password entirely").await;
    }
    app.login("ghost@example.com", "wrong password entirely").await.assert_problem(429, "LOGIN_ATTEMPTS_EXCEEDED");
}

async fn lockout_holds_under_50_parallel_wrong_passwords(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.verified_login("par@example.com").await.body["access_token"].as_str().unwrap().to_owned();
    let body = json!({"email": "par@example.com", "password": "wrong password entirely"});
    let results = join_all((0..50).map(|_| app.post("/api/v1/auth/login", body.clone()))).await;
    let unauthorized = results.iter().filter(|r| r.status == 401).count();
    let locked = results.iter().filter(|r| r.code() == "LOGIN_ATTEMPTS_EXCEEDED").count();
    assert_eq!((unauthorized, locked), (5, 45), "{results:?}");
    // The audit log agrees: exactly five reached the password check.
    let reasons = failure_reasons(&app, &token).await;
    assert_eq!(reasons.iter().filter(|r| *r == "invalid_password").count(), 5);
    assert_eq!(reasons.iter().filter(|r| *r == "too_many_attempts").count(), 45);
}

/// The `reason` of every `auth.login.failure` entry in the login history of `token`'s user.
async fn failure_reasons(app: &TestApp, token: &str) -> Vec<String> {
    let h = app.get("/api/v1/auth/login-history?filter=failure&limit=100", Some(token)).await;
    h.body["data"]["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["metadata"]["reason"].as_str().unwrap().to_owned())
        .collect()
}

async fn twenty_parallel_right_passwords_all_sign_in(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.verified_login("many@example.com").await.body["access_token"].as_str().unwrap().to_owned();
    let results = join_all((0..20).map(|_| app.login("many@example.com", PASSWORD))).await;
    let statuses: Vec<u16> = results.iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![200; 20], "{results:?}");
    assert_eq!(failure_reasons(&app, &token).await, Vec::<String>::new(), "nothing refused, nothing counted");
    // None of them used up a failure: five wrong passwords are still checked.
    for _ in 0..5 {
        app.login("many@example.com", "wrong password entirely").await.assert_problem(401, "INVALID_CREDENTIALS");
    }
    app.login("many@example.com", PASSWORD).await.assert_problem(429, "LOGIN_ATTEMPTS_EXCEEDED");
}

async fn a_successful_login_clears_earlier_failures(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.verified_login("owner@example.com").await;
    for _ in 0..4 {
        app.login("owner@example.com", "wrong password entirely").await.assert_problem(401, "INVALID_CREDENTIALS");
    }
    assert_eq!(app.login("owner@example.com", PASSWORD).await.status, 200);
    // Four failures, a success, then two failures: the owner is not locked out.
    for _ in 0..2 {
        app.login("owner@example.com", "wrong password entirely").await.assert_problem(401, "INVALID_CREDENTIALS");
    }
    assert_eq!(app.login("owner@example.com", PASSWORD).await.status, 200);
}

async fn a_password_reset_lifts_the_lockout(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.verified_login("reset@example.com").await;
    for _ in 0..5 {
        app.login("reset@example.com", "wrong password entirely").await.assert_problem(401, "INVALID_CREDENTIALS");
    }
    app.login("reset@example.com", PASSWORD).await.assert_problem(429, "LOGIN_ATTEMPTS_EXCEEDED");
    assert_eq!(app.mails_to("reset@example.com", 2).await.len(), 2, "the code and the sign-in alert");
    assert_eq!(app.post("/api/v1/auth/forgot-password", json!({"email": "reset@example.com"})).await.status, 200);
    // Mail 1 verified the address, mail 2 alerted the sign-in, mail 3 holds the reset code.
    let code = app.code("reset@example.com", 3).await;
    let new_password = "a brand new passphrase for laura";
    let body = json!({"email": "reset@example.com", "code": code, "new_password": new_password});
    let r = app.post("/api/v1/auth/reset-password", body).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(app.login("reset@example.com", new_password).await.status, 200);
}

async fn verifying_the_address_lifts_the_lockout(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    assert_eq!(app.register("late@example.com", PASSWORD).await.status, 201);
    for _ in 0..5 {
        app.login("late@example.com", "wrong password entirely").await.assert_problem(401, "INVALID_CREDENTIALS");
    }
    app.login("late@example.com", PASSWORD).await.assert_problem(429, "LOGIN_ATTEMPTS_EXCEEDED");
    let code = app.code("late@example.com", 1).await;
    let r = app.post("/api/v1/auth/verify-email", json!({"email": "late@example.com", "code": code})).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(app.login("late@example.com", PASSWORD).await.status, 200);
}

async fn per_ip_limit_applies_to_unauthenticated_auth_calls(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.limits.requests_per_ip_per_minute = 3;
        s.server.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let app = &app;
    let from = |ip: &'static str| async move {
        let body = json!({"email": "a@example.com", "password": "x"});
        app.call("POST", "/api/v1/auth/login", Some(body), None, &[("X-Forwarded-For", ip)]).await
    };
    for _ in 0..3 {
        from("81.2.69.142").await.assert_problem(401, "INVALID_CREDENTIALS");
    }
    let r = from("81.2.69.142").await;
    r.assert_problem(429, "RATE_LIMIT_EXCEEDED");
    assert!(r.header("retry-after").is_some());
    // Another client behind the same proxy has its own allowance.
    from("2.125.160.216").await.assert_problem(401, "INVALID_CREDENTIALS");
    // Every unauthenticated /auth/* call counts against the same allowance.
    for path in ["/api/v1/auth/register", "/api/v1/auth/verify-email", "/api/v1/auth/resend-verification"] {
        let body = json!({"name": "N", "email": "a@example.com", "password": "correct horse battery staple", "code": "123456"});
        app.call("POST", path, Some(body), None, &[("X-Forwarded-For", "81.2.69.142")])
            .await
            .assert_problem(429, "RATE_LIMIT_EXCEEDED");
    }
    // Body validation comes first (check 1 before check 2).
    app.call("POST", "/api/v1/auth/login", Some(json!({"email": 5})), None, &[("X-Forwarded-For", "81.2.69.142")])
        .await
        .assert_problem(400, "VALIDATION_ERROR");
}

async fn forged_forwarded_for_from_an_untrusted_peer_is_ignored(backend: Backend) {
    let app = TestApp::spawn(backend).await; // no trusted proxies
    let token = app.verified_login("f@example.com").await.body["access_token"].as_str().unwrap().to_owned();
    app.call(
        "POST",
        "/api/v1/auth/login",
        Some(json!({"email": "f@example.com", "password": "nope nope nope"})),
        None,
        &[("X-Forwarded-For", "81.2.69.142")],
    )
    .await;
    let h = app.get("/api/v1/auth/login-history?filter=failure", Some(&token)).await;
    assert_eq!(h.body["data"]["history"][0]["ip_address"], "127.0.0.1");
}

async fn revocation_and_suspension_act_on_the_next_request(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.verified_login("rv@example.com").await.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.get("/api/v1/auth/login-history", Some(&token)).await.status, 200);
    app.sql_both("UPDATE users SET status = 'suspended'").await;
    app.get("/api/v1/auth/login-history", Some(&token)).await.assert_problem(401, "UNAUTHORIZED");
    app.sql_both("UPDATE users SET status = 'active'").await;
    assert_eq!(app.get("/api/v1/auth/login-history", Some(&token)).await.status, 200);
    app.sql("UPDATE sessions SET revoked_at = 1", "UPDATE sessions SET revoked_at = now()").await;
    let r = app.get("/api/v1/auth/login-history", Some(&token)).await;
    r.assert_problem(401, "UNAUTHORIZED");
    assert_eq!(r.header("www-authenticate").as_deref(), Some("Bearer"));
}

async fn a_saturated_hashing_pool_answers_503_not_an_endless_queue(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.passwords.hash_workers = 1;
        s.passwords.hash_queue = 1;
    })
    .await;
    let body = json!({"email": "nobody@example.com", "password": "whatever it is"});
    let results = join_all((0..24).map(|_| app.post("/api/v1/auth/login", body.clone()))).await;
    let busy: Vec<_> = results.iter().filter(|r| r.status == 503).collect();
    assert!(!busy.is_empty(), "24 logins through one hashing thread with a queue of one");
    for r in &busy {
        r.assert_problem(503, "SERVICE_UNAVAILABLE");
        assert!(r.header("retry-after").is_some());
    }
    assert!(results.iter().all(|r| [401, 429, 503].contains(&r.status)), "{results:?}");
}

async fn logout_revokes_the_session_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.verified_login("out@example.com").await.body["access_token"].as_str().unwrap().to_owned();
    let r = app.call("POST", "/api/v1/auth/logout", None, Some(&token), &[]).await;
    assert_eq!((r.status, &r.body), (200, &json!({"success": true})));
    app.get("/api/v1/auth/login-history", Some(&token)).await.assert_problem(401, "UNAUTHORIZED");
    app.call("POST", "/api/v1/auth/logout", None, Some(&token), &[]).await.assert_problem(401, "UNAUTHORIZED");
}

/// The PHC hash of `email`'s password as stored.
async fn stored_hash(app: &TestApp, email: &str) -> String {
    app.stored_user(email).await.expect("the account").password_hash.as_str().to_owned()
}

async fn a_login_after_the_argon2_parameters_changed_stores_a_fresh_hash(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.passwords.argon2_memory_kib = 8_192;
        s.passwords.argon2_iterations = 1;
    })
    .await;
    app.verified_login("rehash@example.com").await;
    let before = stored_hash(&app, "rehash@example.com").await;
    assert!(before.starts_with("$argon2id$v=19$m=8192,t=1,p=1$"), "{before}");

    // The operator raises the cost and restarts: the next right password is hashed again.
    let mut stronger = app.settings.clone();
    stronger.passwords.argon2_memory_kib = 9_216;
    stronger.passwords.argon2_iterations = 2;
    let upgraded = app.with_settings(stronger).await;
    assert_eq!(upgraded.login("rehash@example.com", "not the password at all").await.status, 401);
    assert_eq!(stored_hash(&app, "rehash@example.com").await, before, "a wrong password changes nothing");
    assert_eq!(upgraded.login("rehash@example.com", PASSWORD).await.status, 200);
    let after = stored_hash(&app, "rehash@example.com").await;
    assert!(after.starts_with("$argon2id$v=19$m=9216,t=2,p=1$"), "{after}");

    // The new hash is not redone by the next login, and still verifies on the old instance
    // (the parameters travel in the hash).
    assert_eq!(upgraded.login("rehash@example.com", PASSWORD).await.status, 200);
    assert_eq!(stored_hash(&app, "rehash@example.com").await, after);
    assert_eq!(app.login("rehash@example.com", PASSWORD).await.status, 200);
}

/// Sends a login over a raw connection and hangs up before the answer, as a phone losing its
/// signal would.
async fn login_and_hang_up(app: &TestApp, email: &str) {
    use tokio::io::AsyncWriteExt;
    let addr = app.base.trim_start_matches("http://");
    let body = json!({"email": email, "password": PASSWORD}).to_string();
    let request = format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    // Long enough for the server to read the request and reserve its attempt, far shorter
    // than the slowed-down hash below.
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    drop(stream);
}

/// A client that goes away mid-login changes nothing about the outcome: the login runs to its
/// end (the attempt is given back, the session and its alert exist) instead of stopping after
/// the attempt was reserved, which would count it as a failure and lock out the account after
/// five dropped connections.
async fn a_client_hanging_up_mid_login_does_not_count_a_failure(backend: Backend) {
    // About 100 ms per hash, so every hang-up lands while the password is being checked.
    let app = TestApp::spawn_with(backend, |s| s.passwords.argon2_iterations = 12).await;
    let token = app.verified_login("gone@example.com").await.body["access_token"].as_str().unwrap().to_owned();
    // Five: as many attempts as may be in flight for one account at once.
    for _ in 0..5 {
        login_and_hang_up(&app, "gone@example.com").await;
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let r = app.get("/api/v1/auth/sessions", Some(&token)).await;
        let sessions = r.body["data"]["sessions"].as_array().map_or(0, Vec::len);
        if sessions == 6 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{sessions} sessions: the abandoned logins did not finish");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Each abandoned login is recorded whole: its audit entry and its alert, next to its
    // session (they are one commit), and no failure.
    let h = app.get("/api/v1/auth/login-history?limit=100", Some(&token)).await;
    let events: Vec<&str> =
        h.body["data"]["history"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(events.iter().filter(|e| **e == "auth.login.success").count(), 6, "{events:?}");
    assert!(!events.contains(&"auth.login.failure"), "{events:?}");
    let n = app.get("/api/v1/notifications", Some(&token)).await;
    assert_eq!(n.body["data"]["total_count"], 6, "one alert per login: {n:?}");
    assert_eq!(app.login("gone@example.com", PASSWORD).await.status, 200);
}

async fn a_token_issued_in_the_future_is_refused(backend: Backend) {
    use portcullis_domain::ports::{AccessClaims, Clock, SystemClock, TokenIssuer};
    let app = TestApp::spawn(backend).await;
    let login = app.verified_login("ahead@example.com").await;
    let token = login.body["access_token"].as_str().unwrap().to_owned();
    let sessions = app.get("/api/v1/auth/sessions", Some(&token)).await;
    let session_id = sessions.body["data"]["sessions"][0]["id"].as_str().unwrap().parse().unwrap();
    let user_id = login.body["data"]["id"].as_str().unwrap().parse().unwrap();
    // Minted with the server's own key for a live session, but dated an hour ahead.
    let issuer = portcullis_crypto::PasetoIssuer::from_key_file(&app.settings.tokens.key_file).unwrap();
    let mint = |ahead_secs: u64| {
        let issued_at = SystemClock.now().plus(std::time::Duration::from_secs(ahead_secs));
        let claims = AccessClaims {
            user_id,
            session_id,
            issued_at,
            expires_at: issued_at.plus(std::time::Duration::from_secs(900)),
            aal: portcullis_domain::model::Aal::One,
            amr: vec![portcullis_domain::model::AuthMethod::Password],
        };
        issuer.issue(&claims).unwrap()
    };
    app.get("/api/v1/users/me", Some(&mint(3_600))).await.assert_problem(401, "UNAUTHORIZED");
    // The same claims dated now are fine: the key and session are right, only the date was not.
    assert_eq!(app.get("/api/v1/users/me", Some(&mint(0))).await.status, 200);
}

portcullis_e2e::on_both_backends!(
    a_token_issued_in_the_future_is_refused,
    a_login_after_the_argon2_parameters_changed_stores_a_fresh_hash,
    login_success_has_the_documented_shape_and_alerts,
    wrong_and_unknown_get_one_answer,
    account_state_is_checked_only_after_a_right_password,
    lockout_after_five_failures_with_retry_after,
    lockout_holds_under_50_parallel_wrong_passwords,
    twenty_parallel_right_passwords_all_sign_in,
    a_successful_login_clears_earlier_failures,
    a_password_reset_lifts_the_lockout,
    verifying_the_address_lifts_the_lockout,
    per_ip_limit_applies_to_unauthenticated_auth_calls,
    forged_forwarded_for_from_an_untrusted_peer_is_ignored,
    revocation_and_suspension_act_on_the_next_request,
    a_saturated_hashing_pool_answers_503_not_an_endless_queue,
    logout_revokes_the_session_at_once,
    a_client_hanging_up_mid_login_does_not_count_a_failure,
);
