use portcullis_e2e::{Backend, TestApp};
use serde_json::json;

async fn history_is_own_newest_first_filtered_and_paged(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.verified_login("h@example.com").await.body["access_token"].as_str().unwrap().to_owned();
    app.verified_login("other@example.com").await;
    for _ in 0..3 {
        app.call(
            "POST",
            "/api/v1/auth/login",
            Some(json!({"email": "h@example.com", "password": "not it, not it"})),
            None,
            &[("User-Agent", "curl/8.5.0")],
        )
        .await;
    }
    let all = app.get("/api/v1/auth/login-history", Some(&token)).await;
    assert_eq!(all.status, 200, "{all:?}");
    assert_eq!(all.body["success"], true);
    assert_eq!(all.body["message"], "Login history retrieved successfully");
    let data = &all.body["data"];
    assert_eq!(
        (data["total_count"].as_u64(), data["limit"].as_u64(), data["offset"].as_u64()),
        (Some(4), Some(50), Some(0))
    );
    let history = data["history"].as_array().unwrap();
    let ids: Vec<i64> = history.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    let newest = &history[0];
    assert_eq!(newest["action"], "auth.login.failure");
    assert_eq!(newest["metadata"], json!({"reason": "invalid_password"}));
    assert_eq!(newest["user_agent"], "curl/8.5.0");
    assert_eq!(newest["ip_address"], "127.0.0.1");
    assert!(newest["device"].is_object());
    assert_eq!(newest["location"], serde_json::Value::Null);
    let oldest = &history[3];
    assert_eq!(oldest["action"], "auth.login.success");
    assert_eq!(oldest["metadata"], json!({"method": "password", "remember_me": false}));

    let ok = app.get("/api/v1/auth/login-history?filter=success", Some(&token)).await;
    assert_eq!(ok.body["data"]["total_count"], 1);
    let page = app.get("/api/v1/auth/login-history?filter=failure&limit=2&offset=2", Some(&token)).await;
    assert_eq!(page.body["data"]["total_count"], 3);
    assert_eq!(page.body["data"]["history"].as_array().unwrap().len(), 1);
    assert_eq!(page.body["data"]["history"][0]["id"].as_i64(), Some(ids[3 - 1]));
    for q in ["filter=all", "filter=", "filter=null"] {
        assert_eq!(
            app.get(&format!("/api/v1/auth/login-history?{q}"), Some(&token)).await.body["data"]["total_count"],
            4,
            "{q}"
        );
    }
}

async fn history_rejects_bad_queries_and_missing_tokens(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.verified_login("q@example.com").await.body["access_token"].as_str().unwrap().to_owned();
    for q in ["limit=0", "limit=101", "limit=ten", "offset=-1", "filter=sometimes"] {
        app.get(&format!("/api/v1/auth/login-history?{q}"), Some(&token)).await.assert_problem(400, "VALIDATION_ERROR");
    }
    app.get("/api/v1/auth/login-history", None).await.assert_problem(401, "UNAUTHORIZED");
    app.get("/api/v1/auth/login-history", Some("v4.local.garbage")).await.assert_problem(401, "UNAUTHORIZED");
    app.call("GET", "/api/v1/auth/login-history", None, None, &[("Authorization", "Basic Zm9vOmJhcg==")])
        .await
        .assert_problem(401, "UNAUTHORIZED");
}

async fn a_failing_store_gives_history_fetch_failed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.verified_login("x@example.com").await.body["access_token"].as_str().unwrap().to_owned();
    app.sql_both("ALTER TABLE audit_log RENAME TO audit_log_gone").await;
    let r = app.get("/api/v1/auth/login-history", Some(&token)).await;
    r.assert_problem(500, "HISTORY_FETCH_FAILED");
    assert!(!r.text.contains("audit_log"), "internals leaked: {}", r.text);
}

portcullis_e2e::on_both_backends!(
    history_is_own_newest_first_filtered_and_paged,
    history_rejects_bad_queries_and_missing_tokens,
    a_failing_store_gives_history_fetch_failed,
);
