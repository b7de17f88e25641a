//! The application's view: its members register, verify and sign in through Portcullis, and
//! their accounts are rows of its own `accounts` table, next to its own data. Each test runs
//! on a fresh PostgreSQL database (skipped without a server unless `REQUIRE_POSTGRES=1`).

use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use example_own_user_table::connect;
use portcullis_domain::model::{CodeId, OneTimeCode, UserName};
use portcullis_domain::ports::{Change, StoreError, UnitOfWork};
use portcullis_domain::{Policy, ProfileUpdate, RegisterUser};
use portcullis_store_diesel::test_db::TestDatabase;
use portcullis_testing::fakes::{FakeMailTransport, T0};
use portcullis_testing::{TestServiceBuilder, fixtures, sign_in};
use time::OffsetDateTime;

#[derive(diesel::QueryableByName, Debug)]
struct AccountView {
    #[diesel(sql_type = Text)]
    display_name: String,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    mail_verified_at: Option<OffsetDateTime>,
    #[diesel(sql_type = Text)]
    plan: String,
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn account(conn: &mut AsyncPgConnection, mail: &str) -> Option<AccountView> {
    diesel::sql_query("SELECT display_name, mail_verified_at, plan FROM accounts WHERE mail = $1")
        .bind::<Text, _>(mail)
        .get_result(conn)
        .await
        .ok()
}

async fn count(conn: &mut AsyncPgConnection, sql: &str) -> i64 {
    diesel::sql_query(sql).get_result::<Count>(conn).await.expect("a count").n
}

#[tokio::test]
async fn members_register_verify_and_sign_in_with_their_account_in_the_applications_table() {
    let Some(db) = TestDatabase::create().await else { return };
    let store = connect(db.url()).await.unwrap();
    let mut app = AsyncPgConnection::establish(db.url()).await.unwrap();
    let (auth, _) = TestServiceBuilder::new().store(|_| store).build(Policy::default());
    let mailer = FakeMailTransport::new();
    let ctx = fixtures::request("192.0.2.10");

    let form = RegisterUser::parse("Laura", "laura@example.com", fixtures::PASSWORD, auth.policy().password).unwrap();
    auth.register(form, &ctx).await.unwrap();
    let row = account(&mut app, "laura@example.com").await.expect("the account is the application's row");
    assert_eq!((row.display_name.as_str(), row.plan.as_str()), ("Laura", "free"));
    assert_eq!(row.mail_verified_at, None);
    assert_eq!(count(&mut app, "SELECT count(*) AS n FROM users").await, 0, "Portcullis's own table stays empty");

    auth.deliver_mail(&mailer, 10).await.unwrap();
    let code = mailer.last_code_to("laura@example.com").expect("a code");
    auth.verify_email(&fixtures::email("laura@example.com"), &OneTimeCode::parse(&code).unwrap(), &ctx).await.unwrap();
    assert!(account(&mut app, "laura@example.com").await.unwrap().mail_verified_at.is_some());

    // The application changes its own column; Portcullis's writes leave it alone.
    app.batch_execute("UPDATE accounts SET plan = 'pro'").await.unwrap();
    let (login, me) = sign_in(&auth, "laura@example.com").await;
    assert_eq!(me.user.name.as_str(), "Laura");
    let update = ProfileUpdate { name: Some(UserName::parse("Laura P").unwrap()), ..ProfileUpdate::default() };
    auth.update_profile(&me, update, &ctx).await.unwrap();
    let row = account(&mut app, "laura@example.com").await.unwrap();
    assert_eq!((row.display_name.as_str(), row.plan.as_str()), ("Laura P", "pro"));

    // The session is Portcullis's row, referencing the application's account.
    let sessions = count(
        &mut app,
        &format!(
            "SELECT count(*) AS n FROM sessions s JOIN accounts a ON a.account_id = s.user_id WHERE s.id = '{}'",
            login.session_id
        ),
    )
    .await;
    assert_eq!(sessions, 1);
}

#[tokio::test]
async fn a_commit_that_fails_after_writing_an_account_leaves_no_account_behind() {
    let Some(db) = TestDatabase::create().await else { return };
    let store = connect(db.url()).await.unwrap();
    let mut app = AsyncPgConnection::establish(db.url()).await.unwrap();
    let laura = fixtures::user("laura@example.com", T0);

    let failed = store
        .commit(vec![
            Change::InsertUser(laura.clone()),
            Change::AppendAudit(fixtures::audit(Some(laura.id), portcullis_domain::model::AuditAction::Registered, T0)),
            // Guarded: no such code, so the whole commit fails.
            Change::ConsumeCode { id: CodeId::new_v7(), at: T0 },
        ])
        .await;
    assert!(matches!(failed, Err(StoreError::Conflict)), "{failed:?}");
    assert_eq!(count(&mut app, "SELECT count(*) AS n FROM accounts").await, 0);
    assert_eq!(count(&mut app, "SELECT count(*) AS n FROM audit_log").await, 0);
}

#[tokio::test]
async fn portcullis_rows_reference_the_applications_accounts_and_go_with_them() {
    let Some(db) = TestDatabase::create().await else { return };
    let store = connect(db.url()).await.unwrap();
    // Connecting again (a second instance, an upgrade) re-runs the migration step harmlessly.
    let store = {
        drop(store);
        connect(db.url()).await.unwrap()
    };
    let mut app = AsyncPgConnection::establish(db.url()).await.unwrap();
    let laura = fixtures::user("laura@example.com", T0);
    let stranger = fixtures::user("nobody@example.com", T0);

    let orphan = store.commit(vec![Change::InsertSession(fixtures::session(&stranger, T0))]).await;
    assert!(matches!(orphan, Err(StoreError::Other(_))), "a session needs an account: {orphan:?}");

    store
        .commit(vec![
            Change::InsertUser(laura.clone()),
            Change::InsertSession(fixtures::session(&laura, T0)),
            Change::InsertNotification(fixtures::notification(&laura, T0)),
        ])
        .await
        .unwrap();
    // The application deletes the account: Portcullis's rows of it go too.
    app.batch_execute("DELETE FROM accounts").await.unwrap();
    assert_eq!(count(&mut app, "SELECT count(*) AS n FROM sessions").await, 0);
    assert_eq!(count(&mut app, "SELECT count(*) AS n FROM notifications").await, 0);
}
