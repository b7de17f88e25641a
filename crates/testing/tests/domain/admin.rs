//! Administration: every method checks its permission first; changes are audited with the
//! actor; an administrator cannot lock themselves out.

use std::time::Duration;

use portcullis_domain::model::{
    AccountBlock, AccountStatus, AuditAction, AuditQuery, Permission, Role, Roles, User, UserId, UserName, UserQuery,
    UserStatusFilter,
};
use portcullis_domain::{Actor, AdminError, AuthError, LoginError, NewAccount};
use portcullis_testing::TestHandles;
use portcullis_testing::fakes::{FastHasher, T0};
use portcullis_testing::fixtures::{self, PASSWORD};
use serde_json::json;

use crate::support::{
    NEW_PASSWORD, audits, ctx, email, login_ok, login_request, new_password, principal, seed, service, stored_user,
};

/// An active, verified administrator created at [`T0`].
async fn seed_admin(h: &TestHandles, address: &str) -> User {
    let mut admin = fixtures::user(address, T0);
    admin.roles = Roles::new([Role::Admin]);
    seed(h, admin).await
}

/// A plain user created `secs` seconds after [`T0`].
async fn seed_user_at(h: &TestHandles, address: &str, secs: u64) -> User {
    seed(h, fixtures::user(address, T0.plus(Duration::from_secs(secs)))).await
}

fn actor(user: &User) -> Actor {
    Actor::User { id: user.id, roles: user.roles.clone() }
}

fn query(limit: u32, offset: u64) -> UserQuery {
    UserQuery { text: None, status: None, limit, offset }
}

fn audit_query() -> AuditQuery {
    AuditQuery { user_id: None, action: None, from: None, to: None, limit: 100, offset: 0 }
}

fn emails(users: &[User]) -> Vec<&str> {
    users.iter().map(|u| u.email.as_str()).collect()
}

fn new_account(address: &str, roles: Roles) -> NewAccount {
    NewAccount {
        name: UserName::parse("Grace Hopper").expect("a valid name"),
        email: email(address),
        password: new_password(NEW_PASSWORD),
        roles,
    }
}

fn forbidden<T: std::fmt::Debug>(result: Result<T, AdminError>) -> bool {
    matches!(result, Err(AdminError::Forbidden))
}

#[tokio::test]
async fn a_plain_user_is_forbidden_every_admin_method() {
    let (svc, h) = service();
    let ana = seed_user_at(&h, "ana@example.com", 0).await;
    let bob = seed_user_at(&h, "bob@example.com", 1).await;
    let me = principal(&svc, &login_ok(&svc, "ana@example.com").await).await;
    let ana_actor = Actor::user(&me);
    assert!(Permission::ALL.iter().all(|p| !ana_actor.may(*p)));
    let users = h.store.users();
    let audit_len = h.store.audit_entries().len();

    assert!(forbidden(svc.admin_users(&ana_actor, query(10, 0)).await));
    assert!(forbidden(svc.admin_user(&ana_actor, bob.id).await));
    assert!(forbidden(svc.admin_user(&ana_actor, UserId::new_v7()).await), "before the lookup");
    for status in [AccountStatus::Active, AccountStatus::Suspended, AccountStatus::Deactivated] {
        assert!(forbidden(svc.admin_set_status(&ana_actor, bob.id, status, None, &ctx()).await));
    }
    assert!(forbidden(svc.admin_set_status(&ana_actor, ana.id, AccountStatus::Suspended, None, &ctx()).await));
    assert!(forbidden(svc.admin_delete_user(&ana_actor, bob.id, &ctx()).await));
    assert!(forbidden(svc.admin_restore_user(&ana_actor, bob.id, &ctx()).await));
    assert!(forbidden(svc.admin_set_roles(&ana_actor, bob.id, Roles::new([Role::Admin]), &ctx()).await));
    assert!(
        forbidden(svc.admin_set_roles(&ana_actor, ana.id, Roles::new([Role::Admin]), &ctx()).await),
        "no self-promotion"
    );
    assert!(forbidden(svc.admin_audit_log(&ana_actor, audit_query()).await));
    assert!(forbidden(svc.admin_create_user(&ana_actor, new_account("new@example.com", Roles::user()), &ctx()).await));

    assert_eq!(h.store.users(), users, "nothing changed");
    assert_eq!(h.store.audit_entries().len(), audit_len, "nothing audited");
    assert_eq!(h.hasher.hash_calls(), 0, "no password was hashed");
}

#[tokio::test]
async fn list_pages_oldest_first_with_the_total() {
    let (svc, h) = service();
    let admin = seed_admin(&h, "admin@example.com").await;
    for (i, address) in ["ana@example.com", "bob@example.com", "cy@example.com", "dee@example.com"].iter().enumerate() {
        seed_user_at(&h, address, u64::try_from(i).unwrap() + 1).await;
    }
    let first = svc.admin_users(&actor(&admin), query(2, 0)).await.unwrap();
    assert_eq!((emails(&first.items), first.total_count), (vec!["admin@example.com", "ana@example.com"], 5));
    let second = svc.admin_users(&actor(&admin), query(2, 2)).await.unwrap();
    assert_eq!(emails(&second.items), vec!["bob@example.com", "cy@example.com"]);
    let last = svc.admin_users(&actor(&admin), query(2, 4)).await.unwrap();
    assert_eq!((emails(&last.items), last.total_count), (vec!["dee@example.com"], 5));
    let past = svc.admin_users(&actor(&admin), query(2, 10)).await.unwrap();
    assert_eq!((past.items.len(), past.total_count), (0, 5));
}

#[tokio::test]
async fn list_clamps_the_page_size() {
    let (svc, h) = service();
    let admin = seed_admin(&h, "admin@example.com").await;
    for i in 0..104u64 {
        seed_user_at(&h, &format!("user{i}@example.com"), i + 1).await;
    }
    assert_eq!(svc.admin_users(&actor(&admin), query(0, 0)).await.unwrap().items.len(), 1);
    let big = svc.admin_users(&actor(&admin), query(1000, 0)).await.unwrap();
    assert_eq!((big.items.len(), big.total_count), (100, 105));
}

#[tokio::test]
async fn list_searches_text_and_status() {
    let (svc, h) = service();
    let admin = seed_admin(&h, "admin@example.com").await;
    let laura = seed_user_at(&h, "laura@example.com", 1).await;
    let lauren = seed_user_at(&h, "lauren@example.org", 2).await;
    seed_user_at(&h, "bob@example.com", 3).await;
    assert!(h.store.modify_user(lauren.id, |u| u.status = AccountStatus::Suspended));
    let by = |text: Option<&str>, status: Option<UserStatusFilter>| UserQuery {
        text: text.map(str::to_owned),
        status,
        limit: 50,
        offset: 0,
    };

    let found = svc.admin_users(&actor(&admin), by(Some("LAUR"), None)).await.unwrap();
    assert_eq!((emails(&found.items), found.total_count), (vec!["laura@example.com", "lauren@example.org"], 2));
    let found = svc.admin_users(&actor(&admin), by(Some("example.org"), None)).await.unwrap();
    assert_eq!(emails(&found.items), vec!["lauren@example.org"]);
    let suspended = UserStatusFilter::Status(AccountStatus::Suspended);
    let found = svc.admin_users(&actor(&admin), by(None, Some(suspended))).await.unwrap();
    assert_eq!(emails(&found.items), vec!["lauren@example.org"]);

    svc.admin_delete_user(&actor(&admin), laura.id, &ctx()).await.unwrap();
    let found = svc.admin_users(&actor(&admin), by(None, Some(UserStatusFilter::Deleted))).await.unwrap();
    assert_eq!(emails(&found.items), vec!["laura@example.com"]);
    let active = UserStatusFilter::Status(AccountStatus::Active);
    let found = svc.admin_users(&actor(&admin), by(Some("laura"), Some(active))).await.unwrap();
    assert!(found.items.is_empty(), "a deleted account is not listed as active");
}

#[tokio::test]
async fn view_returns_the_account_or_not_found() {
    let (svc, h) = service();
    let admin = seed_admin(&h, "admin@example.com").await;
    let ana = seed_user_at(&h, "ana@example.com", 1).await;
    assert_eq!(svc.admin_user(&actor(&admin), ana.id).await.unwrap(), ana);
    assert!(matches!(svc.admin_user(&actor(&admin), UserId::new_v7()).await, Err(AdminError::NotFound)));
}

#[tokio::test]
async fn changes_to_unknown_accounts_are_not_found() {
    let (svc, h) = service();
    let admin = seed_admin(&h, "admin@example.com").await;
    let a = actor(&admin);
    let nobody = UserId::new_v7();
    let not_found = |r: Result<User, AdminError>| matches!(r, Err(AdminError::NotFound));
    assert!(not_found(svc.admin_set_status(&a, nobody, AccountStatus::Suspended, None, &ctx()).await));
    assert!(not_found(svc.admin_delete_user(&a, nobody, &ctx()).await));
    assert!(not_found(svc.admin_restore_user(&a, nobody, &ctx()).await));
    assert!(not_found(svc.admin_set_roles(&a, nobody, Roles::user(), &ctx()).await));
    assert!(h.store.audit_entries().is_empty());
}

#[tokio::test]
async fn suspending_revokes_sessions_audits_and_blocks_the_account() {
    let (svc, h) = service();
    let admin = seed_admin(&h, "admin@example.com").await;
    let ana = seed_user_at(&h, "ana@example.com", 1).await;
    let session = login_ok(&svc, "ana@example.com").await;
    let now = h.clock.advance(Duration::from_secs(5));

    let user = svc
        .admin_set_status(&actor(&admin), ana.id, AccountStatus::Suspended, Some("spam".to_owned()), &ctx())
        .await
        .unwrap();

    assert_eq!((user.status, user.updated_at), (AccountStatus::Suspended, now));
    assert_eq!(stored_user(&h, ana.id), user);
    assert!(matches!(svc.authenticate(&session.access_token).await, Err(AuthError::Unauthorized)));
    assert!(svc.refresh(&session.refresh_token, &ctx()).await.is_err());
    assert!(h.store.sessions().iter().all(|s| s.revoked_at == Some(now)));
    let entries = audits(&h, "admin.user.suspended");
    assert_eq!(entries.len(), 1);
    assert_eq!((entries[0].user_id, entries[0].created_at), (Some(ana.id), now));
    assert_eq!(
        serde_json::Value::Object(entries[0].metadata.clone()),
        json!({
            "actor_id": admin.id.to_string(),
            "previous_status": "active",
            "status": "suspended",
            "reason": "spam",
        })
    );
    let err = svc.login(login_request("ana@example.com", PASSWORD, false), &ctx()).await.unwrap_err();
    assert!(matches!(err, LoginError::Blocked(AccountBlock::Suspended)), "{err:?}");
}

#[tokio::test]
async fn reactivating_unblocks_without_touching_sessions() {
    let (svc, h) = service();
    let admin = seed_admin(&h, "admin@example.com").await;
    let ana = seed_user_at(&h, "ana@example.com", 1).await;
    svc.admin_set_status(&actor(&admin), ana.id, AccountStatus::Deactivated, None, &ctx()).await.unwrap();
    let err = svc.login(login_request("ana@example.com", PASSWORD, false), &ctx()).await.unwrap_err();
    assert!(matches!(err, LoginError::Blocked(AccountBlock::Deactivated)), "{err:?}");
    let deactivated = audits(&h, "admin.user.deactivated");
    assert_eq!(deactivated.len(), 1);
    assert_eq!(deactivated[0].metadata["reason"], json!(null));

    svc.admin_set_status(&actor(&admin), ana.id, AccountStatus::Active, None, &ctx()).await.unwrap();
    let session = login_ok(&svc, "ana@example.com").await;
    svc.admin_set_status(&actor(&admin), ana.id, AccountStatus::Active, None, &ctx()).await.unwrap();
    svc.authenticate(&session.access_token).await.expect("activating revokes nothing");
    let activated = audits(&h, "admin.user.activated");
    assert_eq!(activated.len(), 2);
    assert_eq!(activated[0].metadata["previous_status"], json!("deactivated"));
}

#[tokio::test]
async fn a_reason_longer_than_500_characters_is_invalid() {
    let (svc, h) = service();
    let admin = seed_admin(&h, "admin@example.com").await;
    let ana = seed_user_at(&h, "ana@example.com", 1).await;
    let long = "é".repeat(501);
    let err =
        svc.admin_set_status(&actor(&admin), ana.id, AccountStatus::Suspended, Some(long), &ctx()).await.unwrap_err();
    assert!(matches!(&err, AdminError::Invalid(fields) if fields.len() == 1), "{err:?}");
    assert_eq!(stored_user(&h, ana.id).status, AccountStatus::Active);
    let ok = "é".repeat(500);
    svc.admin_set_status(&actor(&admin), ana.id, AccountStatus::Suspended, Some(ok), &ctx()).await.unwrap();
}

#[tokio::test]
async fn an_admin_cannot_lock_themselves_out() {
    let (svc, h) = service();
    let admin = seed_admin(&h, "admin@example.com").await;
    let me = actor(&admin);
    let self_target = |r: Result<User, AdminError>| matches!(r, Err(AdminError::SelfTarget));
    for status in [AccountStatus::Suspended, AccountStatus::Deactivated, AccountStatus::Active] {
        assert!(self_target(svc.admin_set_status(&me, admin.id, status, None, &ctx()).await), "{status:?}");
    }
    assert!(self_target(svc.admin_delete_user(&me, admin.id, &ctx()).await));
    assert!(self_target(svc.admin_set_roles(&me, admin.id, Roles::user(), &ctx()).await));
    assert_eq!(stored_user(&h, admin.id), admin, "nothing changed");
    assert!(h.store.audit_entries().is_empty());

    // Keeping the admin role is no demotion.
    let same = svc.admin_set_roles(&me, admin.id, Roles::new([Role::Admin]), &ctx()).await.unwrap();
    assert!(same.roles.contains(Role::Admin));
}

#[tokio::test]
async fn another_admin_may_demote_an_admin() {
    let (svc, h) = service();
    let root = seed_admin(&h, "root@example.com").await;
    let other = seed_admin(&h, "other@example.com").await;
    let user = svc.admin_set_roles(&actor(&root), other.id, Roles::user(), &ctx()).await.unwrap();
    assert_eq!(user.roles, Roles::user());
    let demoted = actor(&stored_user(&h, other.id));
    assert!(matches!(svc.admin_users(&demoted, query(10, 0)).await, Err(AdminError::Forbidden)));
}

#[tokio::test]
async fn delete_and_restore() {
    let (svc, h) = service();
    let admin = seed_admin(&h, "admin@example.com").await;
    let ana = seed_user_at(&h, "ana@example.com", 1).await;
    let session = login_ok(&svc, "ana@example.com").await;
    let deleted_at = h.clock.advance(Duration::from_secs(5));

    let user = svc.admin_delete_user(&actor(&admin), ana.id, &ctx()).await.unwrap();

    assert_eq!((user.deleted_at, user.updated_at), (Some(deleted_at), deleted_at));
    assert_eq!(stored_user(&h, ana.id), user);
    assert!(matches!(svc.authenticate(&session.access_token).await, Err(AuthError::Unauthorized)));
    let entries = audits(&h, "admin.user.deleted");
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].user_id, Some(ana.id));
    assert_eq!(serde_json::Value::Object(entries[0].metadata.clone()), json!({"actor_id": admin.id.to_string()}));
    let err = svc.login(login_request("ana@example.com", PASSWORD, false), &ctx()).await.unwrap_err();
    assert!(matches!(err, LoginError::Blocked(AccountBlock::Deleted)), "{err:?}");

    h.clock.advance(Duration::from_secs(5));
    let again = svc.admin_delete_user(&actor(&admin), ana.id, &ctx()).await.unwrap();
    assert_eq!(again.deleted_at, Some(deleted_at), "deleting twice keeps the first time");
    assert_eq!(audits(&h, "admin.user.deleted").len(), 1);

    let restored_at = h.clock.advance(Duration::from_secs(5));
    let user = svc.admin_restore_user(&actor(&admin), ana.id, &ctx()).await.unwrap();
    assert_eq!((user.deleted_at, user.updated_at), (None, restored_at));
    assert_eq!(stored_user(&h, ana.id), user);
    let entries = audits(&h, "admin.user.restored");
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].metadata["actor_id"], json!(admin.id.to_string()));
    login_ok(&svc, "ana@example.com").await;

    svc.admin_restore_user(&actor(&admin), ana.id, &ctx()).await.unwrap();
    assert_eq!(audits(&h, "admin.user.restored").len(), 1, "restoring a live account changes nothing");
}

#[tokio::test]
async fn granting_admin_gives_the_permissions() {
    let (svc, h) = service();
    let admin = seed_admin(&h, "admin@example.com").await;
    let ana = seed_user_at(&h, "ana@example.com", 1).await;
    let session = login_ok(&svc, "ana@example.com").await;
    let before = Actor::user(&principal(&svc, &session).await);
    assert!(forbidden(svc.admin_users(&before, query(10, 0)).await));
    let now = h.clock.advance(Duration::from_secs(3));

    let user = svc.admin_set_roles(&actor(&admin), ana.id, Roles::new([Role::Admin]), &ctx()).await.unwrap();

    assert_eq!((user.roles.names(), user.updated_at), (vec!["admin", "user"], now));
    assert_eq!(stored_user(&h, ana.id).roles, Roles::new([Role::Admin]));
    let entries = audits(&h, "admin.user.roles_changed");
    assert_eq!(entries.len(), 1);
    assert_eq!(
        serde_json::Value::Object(entries[0].metadata.clone()),
        json!({"actor_id": admin.id.to_string(), "previous_roles": ["user"], "roles": ["admin", "user"]})
    );
    let after = Actor::user(&principal(&svc, &session).await);
    assert!(Permission::ALL.iter().all(|p| after.may(*p)));
    assert_eq!(svc.admin_users(&after, query(10, 0)).await.unwrap().total_count, 2);
    svc.admin_audit_log(&after, audit_query()).await.unwrap();
}

#[tokio::test]
async fn the_audit_log_searches_by_user_action_and_time() {
    let (svc, h) = service();
    let admin = seed_admin(&h, "admin@example.com").await;
    let ana = seed_user_at(&h, "ana@example.com", 1).await;
    let bob = seed_user_at(&h, "bob@example.com", 2).await;
    login_ok(&svc, "ana@example.com").await; // T0
    let t1 = h.clock.advance(Duration::from_secs(60));
    login_ok(&svc, "bob@example.com").await; // t1
    let t2 = h.clock.advance(Duration::from_secs(60));
    svc.admin_set_status(&actor(&admin), ana.id, AccountStatus::Suspended, None, &ctx()).await.unwrap(); // t2
    let a = actor(&admin);

    let all = svc.admin_audit_log(&a, audit_query()).await.unwrap();
    let actions: Vec<&str> = all.items.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, vec!["admin.user.suspended", "auth.login.success", "auth.login.success"], "newest first");
    assert_eq!(all.total_count, 3);

    let of_ana = svc.admin_audit_log(&a, AuditQuery { user_id: Some(ana.id), ..audit_query() }).await.unwrap();
    assert_eq!(of_ana.total_count, 2);
    assert!(of_ana.items.iter().all(|e| e.user_id == Some(ana.id)));

    let logins = AuditQuery { action: Some(AuditAction::LoginSuccess), ..audit_query() };
    let logins = svc.admin_audit_log(&a, logins).await.unwrap();
    assert_eq!(logins.items.iter().map(|e| e.user_id).collect::<Vec<_>>(), vec![Some(bob.id), Some(ana.id)]);

    let window = AuditQuery { from: Some(t1), to: Some(t2), ..audit_query() };
    let window = svc.admin_audit_log(&a, window).await.unwrap();
    assert_eq!(window.items.len(), 1, "from is inclusive, to exclusive");
    assert_eq!((window.items[0].user_id, window.items[0].created_at), (Some(bob.id), t1));

    let paged = svc.admin_audit_log(&a, AuditQuery { limit: 1, offset: 1, ..audit_query() }).await.unwrap();
    assert_eq!((paged.items.len(), paged.total_count), (1, 3));
    assert_eq!(paged.items[0].created_at, t1);
    let clamped = svc.admin_audit_log(&a, AuditQuery { limit: 0, ..audit_query() }).await.unwrap();
    assert_eq!(clamped.items.len(), 1);
}

#[tokio::test]
async fn the_operator_may_do_everything_and_is_recorded_as_cli() {
    let (svc, h) = service();
    let ana = seed_user_at(&h, "ana@example.com", 1).await;
    let op = Actor::Operator;
    assert!(Permission::ALL.iter().all(|p| op.may(*p)));

    let admin =
        svc.admin_create_user(&op, new_account("root@example.com", Roles::new([Role::Admin])), &ctx()).await.unwrap();
    assert_eq!(svc.admin_users(&op, query(10, 0)).await.unwrap().total_count, 2);
    assert_eq!(svc.admin_user(&op, ana.id).await.unwrap().id, ana.id);
    svc.admin_set_status(&op, ana.id, AccountStatus::Suspended, Some("by hand".to_owned()), &ctx()).await.unwrap();
    svc.admin_set_status(&op, ana.id, AccountStatus::Active, None, &ctx()).await.unwrap();
    svc.admin_delete_user(&op, ana.id, &ctx()).await.unwrap();
    svc.admin_restore_user(&op, ana.id, &ctx()).await.unwrap();
    svc.admin_set_roles(&op, ana.id, Roles::new([Role::Admin]), &ctx()).await.unwrap();
    svc.admin_set_roles(&op, admin.id, Roles::user(), &ctx()).await.expect("the operator is no account");

    let log = svc.admin_audit_log(&op, audit_query()).await.unwrap();
    assert_eq!(log.total_count, 7);
    for entry in &log.items {
        assert_eq!(entry.metadata["actor_id"], json!("cli"), "{}", entry.action);
    }
}

#[tokio::test]
async fn create_user_makes_an_active_verified_account_with_the_roles() {
    let (svc, h) = service();
    let admin = seed_admin(&h, "admin@example.com").await;
    let now = h.clock.advance(Duration::from_secs(9));

    let user = svc
        .admin_create_user(&actor(&admin), new_account("Grace@Example.com", Roles::new([Role::Admin])), &ctx())
        .await
        .unwrap();

    assert_eq!(stored_user(&h, user.id), user);
    assert_eq!(user.email.as_str(), "grace@example.com");
    assert_eq!((user.status, user.email_verified_at, user.deleted_at), (AccountStatus::Active, Some(now), None));
    assert_eq!((user.created_at, user.updated_at), (now, now));
    assert_eq!(user.roles.names(), vec!["admin", "user"]);
    assert_eq!(user.password_hash, FastHasher::hash_of(NEW_PASSWORD));
    let entries = audits(&h, "admin.user.created");
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].user_id, Some(user.id));
    assert_eq!(
        serde_json::Value::Object(entries[0].metadata.clone()),
        json!({"actor_id": admin.id.to_string(), "roles": ["admin", "user"]})
    );
    assert!(h.store.queued_mail().is_empty(), "no verification mail");
    let out = svc.login(login_request("grace@example.com", NEW_PASSWORD, false), &ctx()).await.unwrap();
    assert!(Actor::user(&principal(&svc, &out).await).may(Permission::UsersWrite));
}

#[tokio::test]
async fn create_user_refuses_a_taken_address() {
    let (svc, h) = service();
    let admin = seed_admin(&h, "admin@example.com").await;
    let ana = seed_user_at(&h, "ana@example.com", 1).await;
    assert!(h.store.modify_user(ana.id, |u| u.deleted_at = Some(T0)));
    let users = h.store.users();
    for address in ["ANA@example.com", "admin@example.com"] {
        let err = svc.admin_create_user(&actor(&admin), new_account(address, Roles::user()), &ctx()).await.unwrap_err();
        assert!(matches!(err, AdminError::EmailTaken), "{address}: {err:?}");
    }
    assert_eq!(h.store.users(), users);
    assert!(audits(&h, "admin.user.created").is_empty());
}
