//! Section 5: listing, viewing, suspending, reactivating, deleting and restoring accounts.

use portcullis_e2e::{Backend, PASSWORD, Resp, TestApp};
use serde_json::{Value, json};

/// Registers, verifies and signs in an account with this name; its token and id.
async fn signup(app: &TestApp, name: &str, email: &str) -> (String, String) {
    let r = app.post("/api/v1/auth/register", json!({"name": name, "email": email, "password": PASSWORD})).await;
    assert_eq!(r.status, 201, "{r:?}");
    let code = app.code(email, 1).await;
    assert_eq!(app.post("/api/v1/auth/verify-email", json!({"email": email, "code": code})).await.status, 200);
    let login = app.login(email, PASSWORD).await;
    assert_eq!(login.status, 200, "{login:?}");
    (login.body["access_token"].as_str().unwrap().to_owned(), login.body["data"]["id"].as_str().unwrap().to_owned())
}

async fn list(app: &TestApp, admin: &str, query: &str) -> Value {
    let r = app.get(&format!("/api/v1/admin/users{query}"), Some(admin)).await;
    assert_eq!((r.status, &r.body["success"]), (200, &json!(true)), "{query}: {r:?}");
    r.body["data"].clone()
}

fn emails(data: &Value) -> Vec<&str> {
    data["users"].as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap()).collect()
}

async fn set_status(app: &TestApp, admin: &str, id: &str, body: Value) -> Resp {
    app.call("POST", &format!("/api/v1/admin/users/{id}/status"), Some(body), Some(admin), &[]).await
}

async fn audit(app: &TestApp, admin: &str, query: &str) -> Vec<Value> {
    let r = app.get(&format!("/api/v1/admin/audit-log?{query}"), Some(admin)).await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body["data"]["entries"].as_array().unwrap().clone()
}

async fn the_list_searches_email_and_name_filters_by_status_and_pages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token("admin@example.com").await;
    signup(&app, "Ann Smith", "ann@example.com").await;
    let (_, bob) = signup(&app, "Bob Jones", "bob@sample.org").await;
    signup(&app, "Carla Annett", "carla@example.com").await;
    let (_, dan) = signup(&app, "Dan Brown", "dan@other.net").await;

    let all = list(&app, &admin, "").await;
    let everyone = ["admin@example.com", "ann@example.com", "bob@sample.org", "carla@example.com", "dan@other.net"];
    assert_eq!(emails(&all), everyone, "oldest first");
    assert_eq!((&all["total_count"], &all["limit"], &all["offset"]), (&json!(5), &json!(20), &json!(0)));
    let first = all["users"][0].as_object().unwrap();
    let mut keys: Vec<&str> = first.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "account_status",
            "created_at",
            "deleted_at",
            "email",
            "email_verified",
            "email_verified_at",
            "id",
            "last_login_geolocation",
            "name",
            "profile_picture",
            "roles",
            "updated_at"
        ]
    );
    assert_eq!((&first["roles"], &all["users"][1]["roles"]), (&json!(["admin", "user"]), &json!(["user"])));

    for (query, expected) in [
        ("?query=ann", &["ann@example.com", "carla@example.com"][..]),
        ("?query=ANN", &["ann@example.com", "carla@example.com"]),
        ("?query=jones", &["bob@sample.org"]),
        ("?query=sample.org", &["bob@sample.org"]),
        ("?query=%20brown%20", &["dan@other.net"]),
        ("?query=%25", &[]),
        ("?query=_", &[]),
        ("?query=", &everyone),
    ] {
        let data = list(&app, &admin, query).await;
        assert_eq!(emails(&data), expected, "{query}");
        assert_eq!(data["total_count"], json!(expected.len()), "{query}");
    }

    let page = list(&app, &admin, "?limit=2&offset=1").await;
    assert_eq!(emails(&page), ["ann@example.com", "bob@sample.org"]);
    assert_eq!((&page["total_count"], &page["limit"], &page["offset"]), (&json!(5), &json!(2), &json!(1)));
    assert_eq!(emails(&list(&app, &admin, "?limit=2&offset=4").await), ["dan@other.net"]);
    let past = list(&app, &admin, "?offset=10").await;
    assert_eq!((emails(&past).len(), &past["total_count"]), (0, &json!(5)));

    assert_eq!(set_status(&app, &admin, &bob, json!({"status": "suspended"})).await.status, 200);
    assert_eq!(app.call("DELETE", &format!("/api/v1/admin/users/{dan}"), None, Some(&admin), &[]).await.status, 200);
    for (query, expected) in [
        ("?status=suspended", &["bob@sample.org"][..]),
        ("?status=active", &["admin@example.com", "ann@example.com", "carla@example.com"]),
        ("?status=deleted", &["dan@other.net"]),
        ("?status=deactivated", &[]),
        ("?status=active&query=example.com&limit=1&offset=1", &["ann@example.com"]),
    ] {
        let data = list(&app, &admin, query).await;
        assert_eq!(emails(&data), expected, "{query}");
    }
    assert_eq!(list(&app, &admin, "?status=active&query=example.com&limit=1").await["total_count"], json!(3));
}

async fn one_account_is_shown_and_unknown_ids_are_404(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token("admin@example.com").await;
    let (_, ann) = signup(&app, "Ann Smith", "ann@example.com").await;
    let r = app.get(&format!("/api/v1/admin/users/{ann}"), Some(&admin)).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["success"], true);
    let user = &r.body["data"];
    assert_eq!(
        (&user["id"], &user["email"], &user["name"]),
        (&json!(ann), &json!("ann@example.com"), &json!("Ann Smith"))
    );
    assert_eq!(
        (&user["account_status"], &user["email_verified"], &user["roles"]),
        (&json!("active"), &json!(true), &json!(["user"]))
    );
    assert!(user["created_at"].as_str().unwrap().ends_with('Z') && user["deleted_at"].is_null(), "{user}");
    assert!(!r.text.contains("argon2") && !r.text.contains("password"), "no hash in {}", r.text);

    for id in ["0190d7a4-0000-7000-8000-000000000000", "not-a-uuid", "00000000-0000-0000-0000-000000000000"] {
        let user = format!("/api/v1/admin/users/{id}");
        app.get(&user, Some(&admin)).await.assert_problem(404, "NOT_FOUND");
        for (method, path, body) in [
            ("POST", format!("{user}/status"), Some(json!({"status": "suspended"}))),
            ("DELETE", user.clone(), None),
            ("POST", format!("{user}/restore"), None),
            ("PUT", format!("{user}/roles"), Some(json!({"roles": ["admin"]}))),
        ] {
            app.call(method, &path, body, Some(&admin), &[]).await.assert_problem(404, "NOT_FOUND");
        }
    }
}

async fn suspension_acts_at_once_on_every_instance_and_is_audited(backend: Backend) {
    let a = TestApp::spawn(backend).await;
    let b = a.another_instance().await;
    let admin = a.admin_token("admin@example.com").await;
    let admin_id = a.get("/api/v1/users/me", Some(&admin)).await.body["data"]["id"].as_str().unwrap().to_owned();
    let (token, id) = signup(&a, "Sue Pended", "sue@example.com").await;
    assert_eq!(b.get("/api/v1/users/me", Some(&token)).await.status, 200);

    let r = set_status(&b, &admin, &id, json!({"status": "suspended", "reason": "  Chargeback fraud  "})).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!((&r.body["success"], &r.body["data"]["id"]), (&json!(true), &json!(id)));
    assert_eq!(r.body["data"]["account_status"], "suspended");
    a.get("/api/v1/users/me", Some(&token)).await.assert_problem(401, "UNAUTHORIZED");
    b.get("/api/v1/users/me", Some(&token)).await.assert_problem(401, "UNAUTHORIZED");
    a.login("sue@example.com", PASSWORD).await.assert_problem(403, "ACCOUNT_SUSPENDED");

    let entries = audit(&a, &admin, &format!("user_id={id}&action=admin.user.suspended")).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!((&entries[0]["action"], &entries[0]["user_id"]), (&json!("admin.user.suspended"), &json!(id)));
    assert_eq!(
        entries[0]["metadata"],
        json!({"actor_id": admin_id, "previous_status": "active", "status": "suspended", "reason": "Chargeback fraud"})
    );
    assert_eq!(entries[0]["ip_address"], "127.0.0.1");

    // Reactivation lets the account sign in again; the revoked sessions stay revoked.
    let r = set_status(&a, &admin, &id, json!({"status": "active"})).await;
    assert_eq!((r.status, &r.body["data"]["account_status"]), (200, &json!("active")), "{r:?}");
    let fresh = a.login("sue@example.com", PASSWORD).await;
    assert_eq!(fresh.status, 200, "{fresh:?}");
    b.get("/api/v1/users/me", Some(&token)).await.assert_problem(401, "UNAUTHORIZED");
    let entries = audit(&a, &admin, &format!("user_id={id}&action=admin.user.activated")).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["metadata"]["previous_status"], "suspended");
    assert_eq!(entries[0]["metadata"]["reason"], Value::Null, "no reason given");

    let r = set_status(&a, &admin, &id, json!({"status": "deactivated", "reason": ""})).await;
    assert_eq!(r.status, 200, "{r:?}");
    let fresh_token = fresh.body["access_token"].as_str().unwrap();
    b.get("/api/v1/users/me", Some(fresh_token)).await.assert_problem(401, "UNAUTHORIZED");
    a.login("sue@example.com", PASSWORD).await.assert_problem(403, "ACCOUNT_DEACTIVATED");

    for (body, field) in [
        (json!({"status": "banned"}), "status"),
        (json!({"status": "deleted"}), "status"),
        (json!({"status": "Active"}), "status"),
        (json!({"reason": "no status"}), "status"),
        (json!({"status": "suspended", "reason": "x".repeat(501)}), "reason"),
        (json!({"status": "suspended", "reason": 7}), "reason"),
    ] {
        let r = set_status(&a, &admin, &id, body.clone()).await;
        r.assert_problem(400, "VALIDATION_ERROR");
        assert_eq!(r.body["errors"][0]["field"], field, "{body}: {r:?}");
    }
    let shown = a.get(&format!("/api/v1/admin/users/{id}"), Some(&admin)).await;
    assert_eq!(shown.body["data"]["account_status"], "deactivated", "refused changes change nothing");
}

async fn deletion_and_restoration(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token("admin@example.com").await;
    let (token, id) = signup(&app, "Del Eted", "del@example.com").await;
    let user = format!("/api/v1/admin/users/{id}");

    let r = app.call("DELETE", &user, None, Some(&admin), &[]).await;
    assert_eq!((r.status, &r.body["data"]["account_status"]), (200, &json!("active")), "{r:?}");
    let deleted_at = r.body["data"]["deleted_at"].as_str().unwrap().to_owned();
    app.get("/api/v1/users/me", Some(&token)).await.assert_problem(401, "UNAUTHORIZED");
    app.login("del@example.com", PASSWORD).await.assert_problem(403, "ACCOUNT_DELETED");
    assert_eq!(app.get(&user, Some(&admin)).await.body["data"]["deleted_at"], json!(deleted_at), "still shown");
    let again = app.call("DELETE", &user, None, Some(&admin), &[]).await;
    assert_eq!(
        (again.status, &again.body["data"]["deleted_at"]),
        (200, &json!(deleted_at)),
        "deleting twice changes nothing"
    );

    let r = app.call("POST", &format!("{user}/restore"), None, Some(&admin), &[]).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!((&r.body["data"]["deleted_at"], &r.body["data"]["account_status"]), (&Value::Null, &json!("active")));
    app.get("/api/v1/users/me", Some(&token)).await.assert_problem(401, "UNAUTHORIZED");
    assert_eq!(app.login("del@example.com", PASSWORD).await.status, 200);
    assert_eq!(app.call("POST", &format!("{user}/restore"), None, Some(&admin), &[]).await.status, 200);

    let entries = audit(&app, &admin, &format!("user_id={id}")).await;
    let actions: Vec<&str> = entries.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        [
            "auth.login.success",
            "admin.user.restored",
            "auth.login.failure",
            "admin.user.deleted",
            "auth.login.success",
            "auth.email.verified",
            "auth.user.registered"
        ],
        "newest first; the repeated delete and restore wrote nothing"
    );
    let admin_id = app.get("/api/v1/users/me", Some(&admin)).await.body["data"]["id"].clone();
    assert_eq!(entries[1]["metadata"], json!({"actor_id": admin_id}));
    assert_eq!(entries[3]["metadata"], json!({"actor_id": admin_id}));
}

async fn bad_query_values_are_400_naming_the_parameter(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token("admin@example.com").await;
    for (query, field) in [
        ("/api/v1/admin/users?status=banned", "status"),
        ("/api/v1/admin/users?status=", "status"),
        ("/api/v1/admin/users?limit=0", "limit"),
        ("/api/v1/admin/users?limit=101", "limit"),
        ("/api/v1/admin/users?limit=ten", "limit"),
        ("/api/v1/admin/users?offset=-1", "offset"),
        ("/api/v1/admin/audit-log?user_id=42", "user_id"),
        ("/api/v1/admin/audit-log?action=auth.nope", "action"),
        ("/api/v1/admin/audit-log?from=yesterday", "from"),
        ("/api/v1/admin/audit-log?to=2026-02-30T00:00:00Z", "to"),
        ("/api/v1/admin/audit-log?from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z", "to"),
        ("/api/v1/admin/audit-log?limit=0", "limit"),
        ("/api/v1/admin/audit-log?offset=1.5", "offset"),
    ] {
        let r = app.get(query, Some(&admin)).await;
        r.assert_problem(400, "VALIDATION_ERROR");
        assert_eq!(r.body["errors"][0]["field"], field, "{query}: {r:?}");
    }
}

portcullis_e2e::on_both_backends!(
    the_list_searches_email_and_name_filters_by_status_and_pages,
    one_account_is_shown_and_unknown_ids_are_404,
    suspension_acts_at_once_on_every_instance_and_is_audited,
    deletion_and_restoration,
    bad_query_values_are_400_naming_the_parameter,
);
