//! Section 5: the whole audit log, filtered by account, action and time.

use std::collections::BTreeSet;

use portcullis_e2e::{Backend, PASSWORD, TestApp};
use serde_json::{Value, json};

async fn page(app: &TestApp, admin: &str, query: &str) -> Value {
    let r = app.get(&format!("/api/v1/admin/audit-log?{query}"), Some(admin)).await;
    assert_eq!((r.status, &r.body["success"]), (200, &json!(true)), "{query}: {r:?}");
    r.body["data"].clone()
}

fn entries(data: &Value) -> &Vec<Value> {
    data["entries"].as_array().unwrap()
}

fn field<'a>(data: &'a Value, key: &str) -> Vec<&'a str> {
    entries(data).iter().map(|e| e[key].as_str().unwrap()).collect()
}

async fn id_of(app: &TestApp, token: &str) -> String {
    app.get("/api/v1/users/me", Some(token)).await.body["data"]["id"].as_str().unwrap().to_owned()
}

async fn the_audit_log_filters_by_account_action_and_time(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token("admin@example.com").await;
    let ann = app.verified_login("ann@example.com").await.body["access_token"].as_str().unwrap().to_owned();
    let bob = app.verified_login("bob@example.com").await.body["access_token"].as_str().unwrap().to_owned();
    app.login("ann@example.com", "wrong password entirely").await.assert_problem(401, "INVALID_CREDENTIALS");
    let (admin_id, ann_id, bob_id) = (id_of(&app, &admin).await, id_of(&app, &ann).await, id_of(&app, &bob).await);

    let all = page(&app, &admin, "").await;
    let total = all["total_count"].as_u64().unwrap();
    assert_eq!((&all["limit"], &all["offset"]), (&json!(50), &json!(0)));
    assert_eq!(entries(&all).len() as u64, total);
    let ids: Vec<i64> = entries(&all).iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    let newest = &entries(&all)[0];
    assert_eq!((&newest["action"], &newest["user_id"]), (&json!("auth.login.failure"), &json!(ann_id)));
    assert_eq!(newest["metadata"], json!({"reason": "invalid_password"}));
    for key in ["ip_address", "created_at"] {
        assert!(newest[key].is_string(), "{key}: {newest}");
    }
    assert!(newest["device"].is_object() && newest.as_object().unwrap().contains_key("location"), "{newest}");

    // By account: only theirs, and the three accounts' entries are all there is.
    let mut sum = 0;
    for (id, expected) in [
        (
            &admin_id,
            &["admin.user.roles_changed", "auth.login.success", "auth.email.verified", "auth.user.registered"][..],
        ),
        (&ann_id, &["auth.login.failure", "auth.login.success", "auth.email.verified", "auth.user.registered"]),
        (&bob_id, &["auth.login.success", "auth.email.verified", "auth.user.registered"]),
    ] {
        let data = page(&app, &admin, &format!("user_id={id}")).await;
        assert_eq!(field(&data, "action"), expected, "{id}");
        assert!(field(&data, "user_id").iter().all(|u| u == id));
        sum += data["total_count"].as_u64().unwrap();
    }
    assert_eq!(sum, total);
    let nobody = page(&app, &admin, "user_id=0190d7a4-0000-7000-8000-000000000000").await;
    assert_eq!((entries(&nobody).len(), &nobody["total_count"]), (0, &json!(0)));

    // By action, alone and with an account.
    let successes = page(&app, &admin, "action=auth.login.success").await;
    let users: BTreeSet<&str> = field(&successes, "user_id").into_iter().collect();
    assert_eq!(users, BTreeSet::from([admin_id.as_str(), ann_id.as_str(), bob_id.as_str()]));
    assert!(field(&successes, "action").iter().all(|a| *a == "auth.login.success"));
    let granted = page(&app, &admin, "action=admin.user.roles_changed").await;
    assert_eq!(field(&granted, "user_id"), [admin_id.as_str()]);
    assert_eq!(entries(&granted)[0]["metadata"]["actor_id"], "cli", "granted by the operator");
    let data = page(&app, &admin, &format!("user_id={ann_id}&action=auth.login.success")).await;
    assert_eq!(data["total_count"], 1);
    let none = page(&app, &admin, &format!("user_id={bob_id}&action=auth.login.failure")).await;
    assert_eq!(none["entries"], json!([]));

    // By time: `from` inclusive, `to` exclusive, so one instant splits the log in two.
    let pivot_entry = &entries(&successes)[1];
    let pivot = pivot_entry["created_at"].as_str().unwrap();
    let since = page(&app, &admin, &format!("from={pivot}")).await;
    let before = page(&app, &admin, &format!("to={pivot}")).await;
    assert_eq!(since["total_count"].as_u64().unwrap() + before["total_count"].as_u64().unwrap(), total);
    assert!(entries(&since).iter().any(|e| e["id"] == pivot_entry["id"]), "from is inclusive");
    assert!(entries(&before).iter().all(|e| e["id"] != pivot_entry["id"]), "to is exclusive");
    assert!(field(&since, "created_at").iter().all(|t| *t >= pivot));
    assert!(field(&before, "created_at").iter().all(|t| *t < pivot));
    assert!(before["total_count"].as_u64().unwrap() > 0 && since["total_count"].as_u64().unwrap() > 1);
    assert_eq!(page(&app, &admin, &format!("from={pivot}&to={pivot}")).await["total_count"], 0);
    let window = page(&app, &admin, "from=2000-01-01T00:00:00Z&to=2999-01-01T00:00:00%2B01:00").await;
    assert_eq!(window["total_count"], json!(total));
    assert_eq!(page(&app, &admin, "from=2999-01-01T00:00:00Z").await["total_count"], 0);
    assert_eq!(page(&app, &admin, "to=2000-01-01T00:00:00Z").await["total_count"], 0);

    // Paging keeps the total.
    let two = page(&app, &admin, "limit=2&offset=1").await;
    assert_eq!((&two["total_count"], &two["limit"], &two["offset"]), (&json!(total), &json!(2), &json!(1)));
    assert_eq!(entries(&two)[0]["id"], entries(&all)[1]["id"]);
    assert_eq!(entries(&page(&app, &admin, &format!("offset={}", total - 1)).await).len(), 1);

    // Self-service users see none of it.
    app.get("/api/v1/admin/audit-log", Some(&ann)).await.assert_problem(403, "FORBIDDEN");
    assert_eq!(app.login("bob@example.com", PASSWORD).await.status, 200);
}

portcullis_e2e::on_both_backends!(the_audit_log_filters_by_account_action_and_time);
