//! Section 5: who may call the admin routes, role changes, and the self-target rule.

use portcullis_e2e::{Backend, TestApp};
use serde_json::{Value, json};

/// Every admin route (method, path, body) aimed at account `id`.
fn admin_routes(id: &str) -> Vec<(&'static str, String, Option<Value>)> {
    let user = format!("/api/v1/admin/users/{id}");
    vec![
        ("GET", "/api/v1/admin/users".to_owned(), None),
        ("GET", user.clone(), None),
        ("POST", format!("{user}/status"), Some(json!({"status": "suspended", "reason": "testing"}))),
        ("DELETE", user.clone(), None),
        ("POST", format!("{user}/restore"), None),
        ("PUT", format!("{user}/roles"), Some(json!({"roles": ["admin"]}))),
        ("GET", "/api/v1/admin/audit-log".to_owned(), None),
    ]
}

fn token_and_id(login: &portcullis_e2e::Resp) -> (String, String) {
    let token = login.body["access_token"].as_str().unwrap().to_owned();
    (token, login.body["data"]["id"].as_str().unwrap().to_owned())
}

async fn me(app: &TestApp, token: &str) -> Value {
    let r = app.get("/api/v1/users/me", Some(token)).await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body["data"].clone()
}

async fn plain_users_get_403_and_anonymous_callers_401_on_every_admin_route(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (plain, plain_id) = token_and_id(&app.verified_login("plain@example.com").await);
    let (_, victim_id) = token_and_id(&app.verified_login("victim@example.com").await);
    let mut routes = admin_routes(&victim_id);
    // Their own account, and malformed ids, are no way around the permission either.
    routes.extend(admin_routes(&plain_id));
    routes.extend(admin_routes("not-a-uuid"));
    assert_eq!(routes.len(), 21);
    for (method, path, body) in routes {
        let r = app.call(method, &path, body.clone(), Some(&plain), &[]).await;
        r.assert_problem(403, "FORBIDDEN");
        assert_eq!(r.header("www-authenticate"), None, "{method} {path}: the token was fine");
        let r = app.call(method, &path, body.clone(), None, &[]).await;
        r.assert_problem(401, "UNAUTHORIZED");
        assert_eq!(r.header("www-authenticate").as_deref(), Some("Bearer"), "{method} {path}");
        app.call(method, &path, body, Some("v4.local.forged"), &[]).await.assert_problem(401, "UNAUTHORIZED");
    }
    // Nothing happened: the victim still signs in, nobody gained a role.
    assert_eq!(app.login("victim@example.com", portcullis_e2e::PASSWORD).await.status, 200);
    assert_eq!(me(&app, &plain).await["roles"], json!(["user"]));
}

async fn permission_and_token_are_judged_before_the_query_or_the_body(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (plain, _) = token_and_id(&app.verified_login("plain@example.com").await);
    let (_, victim_id) = token_and_id(&app.verified_login("victim@example.com").await);
    let user = format!("/api/v1/admin/users/{victim_id}");
    let malformed: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", "/api/v1/admin/users?limit=0".to_owned(), None),
        ("GET", "/api/v1/admin/users?status=banned".to_owned(), None),
        ("GET", "/api/v1/admin/audit-log?from=yesterday".to_owned(), None),
        ("GET", "/api/v1/admin/audit-log?action=no.such.action".to_owned(), None),
        ("POST", format!("{user}/status"), Some(json!({"status": "banned"}))),
        // No body at all (and so no JSON content type).
        ("POST", format!("{user}/status"), None),
        ("PUT", format!("{user}/roles"), Some(json!({"roles": ["root"]}))),
        ("PUT", format!("{user}/roles"), Some(json!({"roles": "admin"}))),
        ("PUT", format!("{user}/roles"), None),
    ];
    for (method, path, body) in malformed {
        let r = app.call(method, &path, body, Some(&plain), &[]).await;
        assert_eq!((r.status, r.code()), (403, "FORBIDDEN"), "{method} {path}: {r:?}");
    }

    // A signed-out session's token with a bad body: 401, not 400 or 415.
    let (token, _) = token_and_id(&app.login("plain@example.com", portcullis_e2e::PASSWORD).await);
    let r = app.call("POST", "/api/v1/auth/logout", None, Some(&token), &[]).await;
    assert_eq!(r.status, 200, "{r:?}");
    let bearer_with_body = [
        ("POST", "/api/v1/auth/change-password"),
        ("POST", "/api/v1/users/me/deactivate"),
        ("DELETE", "/api/v1/users/me"),
        ("PATCH", "/api/v1/users/me"),
        ("POST", "/api/v1/auth/log"),
    ];
    for (method, path) in bearer_with_body {
        for body in [None, Some(json!({"unexpected": [1, 2]})), Some(json!("not an object"))] {
            let r = app.call(method, path, body.clone(), Some(&token), &[]).await;
            assert_eq!((r.status, r.code()), (401, "UNAUTHORIZED"), "{method} {path} {body:?}: {r:?}");
        }
    }
}

async fn a_promoted_user_administers_at_once_and_a_demoted_one_no_longer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token("root@example.com").await;
    let admin_id = me(&app, &admin).await["id"].as_str().unwrap().to_owned();
    assert_eq!(me(&app, &admin).await["roles"], json!(["admin", "user"]), "/users/me shows roles");
    let (deputy, deputy_id) = token_and_id(&app.verified_login("deputy@example.com").await);
    app.get("/api/v1/admin/users", Some(&deputy)).await.assert_problem(403, "FORBIDDEN");

    let roles = format!("/api/v1/admin/users/{deputy_id}/roles");
    let r = app.call("PUT", &roles, Some(json!({"roles": ["admin"]})), Some(&admin), &[]).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!((&r.body["success"], &r.body["data"]["id"]), (&json!(true), &json!(deputy_id)));
    assert_eq!(r.body["data"]["roles"], json!(["admin", "user"]));
    // The same token, no new sign-in: roles are read on every request.
    assert_eq!(app.get("/api/v1/admin/users", Some(&deputy)).await.status, 200);
    assert_eq!(app.get("/api/v1/admin/audit-log", Some(&deputy)).await.status, 200);
    assert_eq!(me(&app, &deputy).await["roles"], json!(["admin", "user"]));

    let log = app
        .get(&format!("/api/v1/admin/audit-log?user_id={deputy_id}&action=admin.user.roles_changed"), Some(&deputy))
        .await;
    let entries = log.body["data"]["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{log:?}");
    assert_eq!(entries[0]["user_id"], json!(deputy_id));
    assert_eq!(
        entries[0]["metadata"],
        json!({"actor_id": admin_id, "previous_roles": ["user"], "roles": ["admin", "user"]})
    );

    // `[]` means no administrative role (every account keeps `user`).
    let r = app.call("PUT", &roles, Some(json!({"roles": []})), Some(&admin), &[]).await;
    assert_eq!((r.status, &r.body["data"]["roles"]), (200, &json!(["user"])), "{r:?}");
    app.get("/api/v1/admin/users", Some(&deputy)).await.assert_problem(403, "FORBIDDEN");

    for body in
        [json!({"roles": ["root"]}), json!({"roles": ["admin", "superuser"]}), json!({"roles": "admin"}), json!({})]
    {
        let r = app.call("PUT", &roles, Some(body.clone()), Some(&admin), &[]).await;
        r.assert_problem(400, "VALIDATION_ERROR");
        assert_eq!(r.body["errors"][0]["field"], "roles", "{body}: {r:?}");
    }
    assert_eq!(me(&app, &deputy).await["roles"], json!(["user"]), "a refused change changes nothing");
}

async fn administrators_cannot_lock_themselves_out(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token("root@example.com").await;
    let id = me(&app, &admin).await["id"].as_str().unwrap().to_owned();
    let user = format!("/api/v1/admin/users/{id}");
    let attempts = [
        ("POST", format!("{user}/status"), Some(json!({"status": "suspended"}))),
        ("POST", format!("{user}/status"), Some(json!({"status": "deactivated", "reason": "bye"}))),
        ("POST", format!("{user}/status"), Some(json!({"status": "active"}))),
        ("DELETE", user.clone(), None),
        ("PUT", format!("{user}/roles"), Some(json!({"roles": ["user"]}))),
        ("PUT", format!("{user}/roles"), Some(json!({"roles": []}))),
    ];
    for (method, path, body) in attempts {
        let r = app.call(method, &path, body, Some(&admin), &[]).await;
        r.assert_problem(400, "VALIDATION_ERROR");
        assert_eq!(r.body["errors"][0]["field"], "id", "{r:?}");
        assert!(r.body["detail"].as_str().unwrap().contains("their own account"), "{r:?}");
    }
    // Keeping the admin role is no demotion.
    let r = app.call("PUT", &format!("{user}/roles"), Some(json!({"roles": ["admin"]})), Some(&admin), &[]).await;
    assert_eq!(r.status, 200, "{r:?}");
    let me = me(&app, &admin).await;
    assert_eq!(
        (&me["account_status"], &me["deleted_at"], &me["roles"]),
        (&json!("active"), &Value::Null, &json!(["admin", "user"]))
    );

    // Another administrator can.
    let other = app.admin_token("second@example.com").await;
    let r = app.call("POST", &format!("{user}/status"), Some(json!({"status": "suspended"})), Some(&other), &[]).await;
    assert_eq!(r.status, 200, "{r:?}");
    app.get("/api/v1/admin/users", Some(&admin)).await.assert_problem(401, "UNAUTHORIZED");
}

async fn the_openapi_document_describes_the_admin_routes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let doc = app.get("/api/v1/openapi.json", None).await.body;
    for (method, path) in [
        ("get", "/api/v1/admin/users"),
        ("get", "/api/v1/admin/users/{id}"),
        ("delete", "/api/v1/admin/users/{id}"),
        ("post", "/api/v1/admin/users/{id}/status"),
        ("post", "/api/v1/admin/users/{id}/restore"),
        ("put", "/api/v1/admin/users/{id}/roles"),
        ("get", "/api/v1/admin/audit-log"),
    ] {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} missing");
        assert!(op["responses"]["403"].is_object(), "{method} {path} documents 403");
        assert!(op["responses"]["401"].is_object(), "{method} {path} documents 401");
    }
}

portcullis_e2e::on_both_backends!(
    permission_and_token_are_judged_before_the_query_or_the_body,
    plain_users_get_403_and_anonymous_callers_401_on_every_admin_route,
    a_promoted_user_administers_at_once_and_a_demoted_one_no_longer,
    administrators_cannot_lock_themselves_out,
    the_openapi_document_describes_the_admin_routes,
);
