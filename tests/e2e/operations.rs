use portcullis_e2e::{Backend, TestApp};

async fn health_openapi_and_docs(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    assert_eq!(app.get("/health/live", None).await.status, 200);
    assert_eq!(app.get("/health/ready", None).await.status, 200);
    let doc = app.get("/api/v1/openapi.json", None).await;
    assert_eq!(doc.status, 200);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc.body["openapi"]);
    for path in [
        "/api/v1/auth/register",
        "/api/v1/auth/verify-email",
        "/api/v1/auth/resend-verification",
        "/api/v1/auth/login",
        "/api/v1/auth/log",
        "/api/v1/auth/login-history",
        "/health/ready",
    ] {
        assert!(doc.body["paths"][path].is_object(), "{path} missing from the OpenAPI document");
    }
    assert!(doc.body["components"]["securitySchemes"]["bearer"].is_object());
    let docs = app.get("/docs", None).await;
    assert_eq!(docs.status, 200);
    assert!(docs.text.contains("/api/v1/openapi.json"));
}

async fn every_response_carries_a_request_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let r = app.get("/health/live", None).await;
    assert_eq!(r.header("x-request-id").map(|v| v.len()), Some(36));
    let r = app.call("GET", "/health/live", None, None, &[("X-Request-Id", "trace-me-123")]).await;
    assert_eq!(r.header("x-request-id").as_deref(), Some("trace-me-123"));
}

portcullis_e2e::on_both_backends!(health_openapi_and_docs, every_response_carries_a_request_id,);
