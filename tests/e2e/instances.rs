//! Several instances on one database: every limit, code and revocation holds across them.

use futures_util::future::join_all;
use portcullis_e2e::{Backend, PASSWORD, TestApp};
use serde_json::json;

async fn lockout_counts_attempts_made_on_every_instance(backend: Backend) {
    let a = TestApp::spawn(backend).await;
    let b = a.another_instance().await;
    a.verified_login("both@example.com").await;
    for (i, app) in [&a, &b, &a, &b, &a].into_iter().enumerate() {
        app.login("both@example.com", "wrong password entirely").await.assert_problem(401, "INVALID_CREDENTIALS");
        assert!(i < 5);
    }
    // The sixth attempt is refused whichever instance gets it, even with the right password.
    b.login("both@example.com", PASSWORD).await.assert_problem(429, "LOGIN_ATTEMPTS_EXCEEDED");
    a.login("both@example.com", PASSWORD).await.assert_problem(429, "LOGIN_ATTEMPTS_EXCEEDED");
}

async fn a_code_works_once_across_instances_under_parallel_requests(backend: Backend) {
    let a = TestApp::spawn(backend).await;
    let b = a.another_instance().await;
    a.register("once@example.com", PASSWORD).await;
    let code = a.code("once@example.com", 1).await;
    let body = json!({"email": "once@example.com", "code": code});
    let results = join_all(
        (0..16)
            .map(|i| if i % 2 == 0 { &a } else { &b })
            .map(|app| app.post("/api/v1/auth/verify-email", body.clone())),
    )
    .await;
    assert_eq!(results.iter().filter(|r| r.status == 200).count(), 1, "{results:?}");
    assert!(results.iter().all(|r| r.status == 200 || r.status == 400), "{results:?}");
}

async fn revocation_and_suspension_through_one_are_refused_by_the_other(backend: Backend) {
    let a = TestApp::spawn(backend).await;
    let b = a.another_instance().await;
    let token = a.verified_login("rev@example.com").await.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(b.get("/api/v1/auth/login-history", Some(&token)).await.status, 200, "tokens work on every instance");
    assert_eq!(a.call("POST", "/api/v1/auth/logout", None, Some(&token), &[]).await.status, 200);
    b.get("/api/v1/auth/login-history", Some(&token)).await.assert_problem(401, "UNAUTHORIZED");

    let login = b.login("rev@example.com", PASSWORD).await;
    let token = login.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(a.get("/api/v1/auth/login-history", Some(&token)).await.status, 200);
    let admin = a.admin_token("admin@example.com").await;
    let status = format!("/api/v1/admin/users/{}/status", login.body["data"]["id"].as_str().unwrap());
    let r = b.call("POST", &status, Some(json!({"status": "suspended"})), Some(&admin), &[]).await;
    assert_eq!(r.status, 200, "{r:?}");
    a.get("/api/v1/auth/login-history", Some(&token)).await.assert_problem(401, "UNAUTHORIZED");
    b.get("/api/v1/auth/login-history", Some(&token)).await.assert_problem(401, "UNAUTHORIZED");
}

portcullis_e2e::on_both_backends!(
    lockout_counts_attempts_made_on_every_instance,
    a_code_works_once_across_instances_under_parallel_requests,
    revocation_and_suspension_through_one_are_refused_by_the_other,
);
