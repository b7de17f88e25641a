//! Section 4 (part): the caller's sessions, `/users/me` and security events.

use portcullis_e2e::{Backend, TestApp};
use serde_json::{Value, json};

fn token_of(login: &portcullis_e2e::Resp) -> String {
    login.body["access_token"].as_str().unwrap().to_owned()
}

async fn sessions_of(app: &TestApp, token: &str) -> Vec<Value> {
    let r = app.get("/api/v1/auth/sessions", Some(token)).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["success"], true);
    r.body["data"]["sessions"].as_array().unwrap().clone()
}

async fn sessions_list_live_ones_and_revoke_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let first = token_of(&app.verified_login("s@example.com").await);
    let second = token_of(&app.login("s@example.com", portcullis_e2e::PASSWORD).await);
    let other = token_of(&app.verified_login("other@example.com").await);

    let sessions = sessions_of(&app, &second).await;
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    assert_eq!(sessions[0]["current"], true, "newest first, and it is this token's");
    assert_eq!(sessions[1]["current"], false);
    let s = &sessions[0];
    for key in ["id", "ip_address", "created_at", "last_seen_at", "expires_at"] {
        assert!(s[key].is_string(), "{key}: {s:?}");
    }
    assert!(s["device"].is_object() && s.as_object().unwrap().contains_key("location"), "{s:?}");
    let first_id = sessions[1]["id"].as_str().unwrap().to_owned();
    let second_id = sessions[0]["id"].as_str().unwrap().to_owned();
    let others_id = sessions_of(&app, &other).await[0]["id"].as_str().unwrap().to_owned();

    let path = |id: &str| format!("/api/v1/auth/sessions/{id}");
    let r = app.call("DELETE", &path(&first_id), None, Some(&second), &[]).await;
    assert_eq!((r.status, &r.body), (200, &json!({"success": true})), "{r:?}");
    app.get("/api/v1/auth/sessions", Some(&first)).await.assert_problem(401, "UNAUTHORIZED");
    assert_eq!(sessions_of(&app, &second).await.len(), 1);

    // Already revoked, another user's, unknown and malformed ids: one answer.
    for id in [first_id.as_str(), others_id.as_str(), "0190d7a4-0000-7000-8000-000000000000", "not-a-uuid"] {
        app.call("DELETE", &path(id), None, Some(&second), &[]).await.assert_problem(404, "NOT_FOUND");
    }
    assert_eq!(sessions_of(&app, &other).await.len(), 1, "another user's session survives");

    let events = app.get("/api/v1/auth/security-events?action=auth.session.revoked", Some(&second)).await;
    assert_eq!(events.body["data"]["events"][0]["metadata"], json!({"session_id": first_id}));

    // The current session can be revoked too; its token is refused from then on.
    let r = app.call("DELETE", &path(&second_id), None, Some(&second), &[]).await;
    assert_eq!(r.status, 200, "{r:?}");
    app.get("/api/v1/auth/sessions", Some(&second)).await.assert_problem(401, "UNAUTHORIZED");
    app.call("DELETE", &path(&second_id), None, None, &[]).await.assert_problem(401, "UNAUTHORIZED");
    app.get("/api/v1/auth/sessions", None).await.assert_problem(401, "UNAUTHORIZED");
}

async fn last_seen_at_moves_when_a_token_is_used_after_a_minute(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = token_of(&app.verified_login("seen@example.com").await);
    let s = &sessions_of(&app, &token).await[0];
    assert_eq!(s["last_seen_at"], s["created_at"], "within the first minute nothing is written");
    // As if the session had been idle for two minutes.
    app.sql(
        "UPDATE sessions SET created_at = created_at - 120000, last_seen_at = last_seen_at - 120000",
        "UPDATE sessions SET created_at = created_at - interval '2 minutes', last_seen_at = last_seen_at - interval '2 minutes'",
    )
    .await;
    let s = &sessions_of(&app, &token).await[0];
    assert!(s["last_seen_at"].as_str().unwrap() > s["created_at"].as_str().unwrap(), "{s:?}");
}

async fn users_me_shows_and_updates_the_profile(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let login = app.verified_login("me@example.com").await;
    let token = token_of(&login);

    let me = app.get("/api/v1/users/me", Some(&token)).await;
    assert_eq!(me.status, 200, "{me:?}");
    assert_eq!(me.body["success"], true);
    assert_eq!(me.body["data"], login.body["data"], "the user object of the login response");

    let patch = |body: Value, token: Option<String>| {
        let app = &app;
        async move { app.call("PATCH", "/api/v1/users/me", Some(body), token.as_deref(), &[]).await }
    };
    let r =
        patch(json!({"name": "  Ana Lima ", "profile_picture": "https://cdn.example.com/a.png"}), Some(token.clone()))
            .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["data"]["name"], "Ana Lima");
    assert_eq!(r.body["data"]["profile_picture"], "https://cdn.example.com/a.png");
    assert_eq!(r.body["data"]["email"], "me@example.com");
    assert_eq!(app.get("/api/v1/users/me", Some(&token)).await.body["data"], r.body["data"]);

    let r = patch(json!({"profile_picture": null}), Some(token.clone())).await;
    assert_eq!(
        (r.status, &r.body["data"]["profile_picture"], &r.body["data"]["name"]),
        (200, &Value::Null, &json!("Ana Lima"))
    );
    let r = patch(json!({}), Some(token.clone())).await;
    assert_eq!(r.status, 200, "{r:?}");

    let events = app.get("/api/v1/auth/security-events?action=user.profile.updated", Some(&token)).await;
    let metadata: Vec<&Value> =
        events.body["data"]["events"].as_array().unwrap().iter().map(|e| &e["metadata"]).collect();
    assert_eq!(
        metadata,
        vec![&json!({"fields": ["profile_picture"]}), &json!({"fields": ["name", "profile_picture"]})]
    );

    for (body, field) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "x".repeat(101)}), "name"),
        (json!({"profile_picture": "javascript:alert(1)"}), "profile_picture"),
        (json!({"profile_picture": format!("https://a.io/{}", "x".repeat(2048))}), "profile_picture"),
        (json!({"profile_picture": "https://a.io/\u{7}"}), "profile_picture"),
    ] {
        let r = patch(body, Some(token.clone())).await;
        r.assert_problem(400, "VALIDATION_ERROR");
        assert_eq!(r.body["errors"][0]["field"], field, "{r:?}");
    }
    app.get("/api/v1/users/me", None).await.assert_problem(401, "UNAUTHORIZED");
    patch(json!({"name": "Eve"}), None).await.assert_problem(401, "UNAUTHORIZED");
}

async fn security_events_lists_every_action_of_the_caller(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = token_of(&app.verified_login("ev@example.com").await);
    app.verified_login("someone@example.com").await;
    app.login("ev@example.com", "not it, not it").await;

    let r = app.get("/api/v1/auth/security-events", Some(&token)).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["message"], "Security events retrieved successfully");
    let data = &r.body["data"];
    let actions: Vec<&str> = data["events"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        vec!["auth.login.failure", "auth.login.success", "auth.email.verified", "auth.user.registered"]
    );
    assert_eq!(
        (data["total_count"].as_u64(), data["limit"].as_u64(), data["offset"].as_u64()),
        (Some(4), Some(50), Some(0))
    );

    let r = app.get("/api/v1/auth/security-events?action=auth.login.failure&limit=1&offset=0", Some(&token)).await;
    assert_eq!(
        (r.body["data"]["total_count"].as_u64(), r.body["data"]["events"][0]["action"].as_str()),
        (Some(1), Some("auth.login.failure"))
    );
    let r = app.get("/api/v1/auth/security-events?limit=2&offset=3", Some(&token)).await;
    assert_eq!(r.body["data"]["events"].as_array().unwrap().len(), 1);

    for q in ["limit=0", "limit=101", "offset=-1", "action=auth.nothing", "action=AUTH.LOGOUT"] {
        app.get(&format!("/api/v1/auth/security-events?{q}"), Some(&token))
            .await
            .assert_problem(400, "VALIDATION_ERROR");
    }
    app.get("/api/v1/auth/security-events", None).await.assert_problem(401, "UNAUTHORIZED");
}

portcullis_e2e::on_both_backends!(
    sessions_list_live_ones_and_revoke_one,
    last_seen_at_moves_when_a_token_is_used_after_a_minute,
    users_me_shows_and_updates_the_profile,
    security_events_lists_every_action_of_the_caller,
);
