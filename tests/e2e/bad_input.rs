use portcullis_e2e::{Backend, TestApp};
use serde_json::json;

async fn bad_bodies_get_problem_json_never_500(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for path in
        ["/api/v1/auth/register", "/api/v1/auth/verify-email", "/api/v1/auth/resend-verification", "/api/v1/auth/login"]
    {
        let r = app.raw(path, Some("application/json"), b"{\"email\": ".to_vec()).await;
        r.assert_problem(400, "VALIDATION_ERROR");
        let r = app.raw(path, Some("application/json"), b"[]".to_vec()).await;
        r.assert_problem(400, "VALIDATION_ERROR");
        let r = app.raw(path, Some("application/json"), Vec::new()).await;
        r.assert_problem(400, "VALIDATION_ERROR");
        let r = app.raw(path, Some("text/plain"), b"{\"email\":\"a@b.co\"}".to_vec()).await;
        r.assert_problem(415, "UNSUPPORTED_MEDIA_TYPE");
        let r = app.raw(path, None, b"{}".to_vec()).await;
        r.assert_problem(415, "UNSUPPORTED_MEDIA_TYPE");
        let big = format!("{{\"email\":\"{}\"}}", "a".repeat(17 * 1024));
        let r = app.raw(path, Some("application/json"), big.into_bytes()).await;
        r.assert_problem(413, "PAYLOAD_TOO_LARGE");
    }
    let r = app
        .post("/api/v1/auth/login", json!({"email": "a@example.com", "password": 12345, "remember_me": "yes"}))
        .await;
    r.assert_problem(400, "VALIDATION_ERROR");
    assert_eq!(r.body["errors"][0]["field"], "password");
    assert!(!r.text.contains("12345"));
    let r = app.post("/api/v1/auth/login", json!({"email": "a@example.com"})).await;
    assert_eq!(r.body["errors"][0]["field"], "password");
    let r =
        app.post("/api/v1/auth/login", json!({"email": "a@example.com", "password": "x", "remember_me": "yes"})).await;
    assert_eq!(r.body["errors"][0]["field"], "remember_me");
    let r = app.post("/api/v1/auth/register", json!({"name": ["x"], "email": "a@example.com", "password": "p"})).await;
    assert_eq!(r.body["errors"][0]["field"], "name");
    // JSON with a charset parameter is JSON.
    let r = app
        .raw(
            "/api/v1/auth/resend-verification",
            Some("application/json; charset=utf-8"),
            br#"{"email":"a@example.com"}"#.to_vec(),
        )
        .await;
    assert_eq!(r.status, 200);
}

async fn unknown_paths_and_methods_are_problems_too(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.get("/api/v1/nothing-here", None).await.assert_problem(404, "NOT_FOUND");
    app.get("/api/v1/auth/login", None).await.assert_problem(405, "METHOD_NOT_ALLOWED");
    app.call("DELETE", "/api/v1/auth/register", None, None, &[]).await.assert_problem(405, "METHOD_NOT_ALLOWED");
}

portcullis_e2e::on_both_backends!(bad_bodies_get_problem_json_never_500, unknown_paths_and_methods_are_problems_too,);
