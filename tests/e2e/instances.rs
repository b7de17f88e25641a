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

async fn parallel_logins_on_two_instances_count_failures_only(backend: Backend) {
    // 73 logins from one address within the minute: lift the per-IP limit out of the way.
    let a = TestApp::spawn_with(backend, |s| s.limits.requests_per_ip_per_minute = 1_000).await;
    let b = a.another_instance().await;
    a.verified_login("pair@example.com").await;
    let instance = |i: usize| if i.is_multiple_of(2) { &a } else { &b };
    // Twenty right passwords at once, half through each instance: all of them sign in.
    let right = join_all((0..20).map(|i| instance(i).login("pair@example.com", PASSWORD))).await;
    assert!(right.iter().all(|r| r.status == 200), "{right:?}");
    // Fifty wrong ones at once: five password checks in all, the rest refused unchecked.
    let wrong = join_all((0..50).map(|i| instance(i).login("pair@example.com", "wrong password entirely"))).await;
    let checked = wrong.iter().filter(|r| r.status == 401).count();
    let locked = wrong.iter().filter(|r| r.code() == "LOGIN_ATTEMPTS_EXCEEDED").count();
    assert_eq!((checked, locked), (5, 45), "{wrong:?}");
}

portcullis_e2e::on_both_backends!(
    parallel_logins_on_two_instances_count_failures_only,
    lockout_counts_attempts_made_on_every_instance,
    a_code_works_once_across_instances_under_parallel_requests,
    revocation_and_suspension_through_one_are_refused_by_the_other,
);
