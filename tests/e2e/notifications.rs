//! `GET /notifications`, `POST /notifications/{id}/read`, `POST /notifications/read-all`
//! (contract section 2): the new-sign-in notification, counts, the unread filter, read marks
//! that never reach another user's notifications, and bad input.

use portcullis_e2e::{Backend, TestApp};
use serde_json::{Value, json};

async fn token_of(app: &TestApp, email: &str) -> String {
    app.verified_login(email).await.body["access_token"].as_str().unwrap().to_owned()
}

async fn list(app: &TestApp, query: &str, token: &str) -> Value {
    let r = app.get(&format!("/api/v1/notifications{query}"), Some(token)).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["success"], true);
    r.body["data"].clone()
}

async fn post(app: &TestApp, path: &str, token: Option<&str>) -> portcullis_e2e::Resp {
    app.call("POST", path, None, token, &[]).await
}

async fn sign_ins_notify_and_signups_do_not(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = token_of(&app, "n@example.com").await;
    let data = list(&app, "", &token).await;
    assert_eq!((data["total_count"].as_u64(), data["unread_count"].as_u64()), (Some(1), Some(1)));
    assert_eq!((data["limit"].as_u64(), data["offset"].as_u64()), (Some(20), Some(0)));
    let n = &data["notifications"][0];
    let mut keys: Vec<&str> = n.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["body", "created_at", "data", "id", "read_at", "title", "type"]);
    assert_eq!(n["type"], "security.new_sign_in");
    assert_eq!(n["read_at"], Value::Null);
    let created_at = n["created_at"].as_str().unwrap();
    assert!(created_at.ends_with('Z') && created_at.len() == 24, "RFC 3339 with ms: {created_at}");
    let body = n["body"].as_str().unwrap();
    let device = n["data"]["device"].as_str().unwrap();
    assert!(!device.is_empty());
    for fact in ["127.0.0.1", created_at, "UTC", device, "an unknown location", "change your password"] {
        assert!(body.contains(fact), "{fact:?} missing from {body:?}");
    }
    assert!(n["title"].as_str().unwrap().contains("sign-in"), "{n}");
    assert_eq!(n["data"]["ip_address"], "127.0.0.1");

    let r = app.call("POST", "/api/v1/auth/log", Some(json!({"event": "login"})), Some(&token), &[]).await;
    assert_eq!(r.body, json!({"success": true}));
    let r = app.call("POST", "/api/v1/auth/log", Some(json!({"event": "signup"})), Some(&token), &[]).await;
    assert_eq!(r.body, json!({"success": true}));
    let data = list(&app, "", &token).await;
    assert_eq!((data["total_count"].as_u64(), data["unread_count"].as_u64()), (Some(2), Some(2)));
    let times: Vec<&str> =
        data["notifications"].as_array().unwrap().iter().map(|n| n["created_at"].as_str().unwrap()).collect();
    assert!(times[0] >= times[1], "newest first: {times:?}");
    assert_eq!(data["notifications"][0]["type"], "security.new_sign_in");
}

async fn marking_read_filters_counts_and_stays_with_the_owner(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = token_of(&app, "m@example.com").await;
    let other = token_of(&app, "o@example.com").await;
    for _ in 0..2 {
        app.call("POST", "/api/v1/auth/log", Some(json!({"event": "login"})), Some(&token), &[]).await;
    }
    let data = list(&app, "", &token).await;
    assert_eq!((data["total_count"].as_u64(), data["unread_count"].as_u64()), (Some(3), Some(3)));
    let ids: Vec<String> =
        data["notifications"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap().to_owned()).collect();
    let page = list(&app, "?limit=1&offset=1", &token).await;
    assert_eq!(page["notifications"].as_array().unwrap().len(), 1);
    assert_eq!(page["notifications"][0]["id"], ids[1].as_str());
    assert_eq!(
        (page["total_count"].as_u64(), page["limit"].as_u64(), page["offset"].as_u64()),
        (Some(3), Some(1), Some(1))
    );

    let r = post(&app, &format!("/api/v1/notifications/{}/read", ids[1]), Some(&token)).await;
    assert_eq!((r.status, &r.body), (200, &json!({"success": true})));
    let data = list(&app, "", &token).await;
    assert_eq!((data["total_count"].as_u64(), data["unread_count"].as_u64()), (Some(3), Some(2)));
    let read_at = data["notifications"][1]["read_at"].as_str().unwrap().to_owned();
    assert!(read_at.ends_with('Z'), "{read_at}");
    // Marking again is fine and keeps the first time.
    assert_eq!(post(&app, &format!("/api/v1/notifications/{}/read", ids[1]), Some(&token)).await.status, 200);
    assert_eq!(list(&app, "", &token).await["notifications"][1]["read_at"], read_at.as_str());

    for unread_only in ["true", "1"] {
        let unread = list(&app, &format!("?unread_only={unread_only}"), &token).await;
        let got: Vec<&str> =
            unread["notifications"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap()).collect();
        assert_eq!(got, [ids[0].as_str(), ids[2].as_str()]);
        assert_eq!((unread["total_count"].as_u64(), unread["unread_count"].as_u64()), (Some(2), Some(2)));
    }
    assert_eq!(list(&app, "?unread_only=false", &token).await["total_count"], 3);

    // Another user's id, an unknown one and a malformed one are all simply not found.
    for id in [ids[0].clone(), uuid_like(), "not-a-uuid".to_owned()] {
        post(&app, &format!("/api/v1/notifications/{id}/read"), Some(&other)).await.assert_problem(404, "NOT_FOUND");
    }
    assert_eq!(list(&app, "", &token).await["unread_count"], 2, "the owner's stay unread");

    let r = post(&app, "/api/v1/notifications/read-all", Some(&other)).await;
    assert_eq!((r.status, &r.body), (200, &json!({"success": true})));
    assert_eq!(list(&app, "", &token).await["unread_count"], 2, "read-all only touches the caller's");
    assert_eq!(list(&app, "", &other).await["unread_count"], 0);
    assert_eq!(post(&app, "/api/v1/notifications/read-all", Some(&token)).await.status, 200);
    let data = list(&app, "", &token).await;
    assert_eq!((data["total_count"].as_u64(), data["unread_count"].as_u64()), (Some(3), Some(0)));
    assert_eq!(data["notifications"][1]["read_at"], read_at.as_str(), "earlier read times stay");
    assert!(list(&app, "?unread_only=true", &token).await["notifications"].as_array().unwrap().is_empty());
}

fn uuid_like() -> String {
    "0190c7a8-0000-7000-8000-000000000000".to_owned()
}

async fn notifications_refuse_bad_queries_and_missing_tokens(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = token_of(&app, "b@example.com").await;
    for (q, field) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("offset=-1", "offset"),
        ("unread_only=maybe", "unread_only"),
    ] {
        let r = app.get(&format!("/api/v1/notifications?{q}"), Some(&token)).await;
        r.assert_problem(400, "VALIDATION_ERROR");
        assert_eq!(r.body["errors"][0]["field"], field, "{q}");
    }
    app.get("/api/v1/notifications", None).await.assert_problem(401, "UNAUTHORIZED");
    app.get("/api/v1/notifications", Some("v4.local.garbage")).await.assert_problem(401, "UNAUTHORIZED");
    let id = list(&app, "", &token).await["notifications"][0]["id"].as_str().unwrap().to_owned();
    post(&app, &format!("/api/v1/notifications/{id}/read"), None).await.assert_problem(401, "UNAUTHORIZED");
    post(&app, "/api/v1/notifications/read-all", None).await.assert_problem(401, "UNAUTHORIZED");
    assert_eq!(list(&app, "", &token).await["unread_count"], 1, "nothing marked without a token");

    let doc = app.get("/api/v1/openapi.json", None).await;
    for path in ["/api/v1/notifications", "/api/v1/notifications/{id}/read", "/api/v1/notifications/read-all"] {
        assert!(doc.body["paths"][path].is_object(), "{path} missing from the OpenAPI document");
    }
}

portcullis_e2e::on_both_backends!(
    sign_ins_notify_and_signups_do_not,
    marking_read_filters_counts_and_stays_with_the_owner,
    notifications_refuse_bad_queries_and_missing_tokens,
);
