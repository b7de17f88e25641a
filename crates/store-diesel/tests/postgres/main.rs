//! What only the PostgreSQL store has to prove: migrations, the column types other tools see,
//! several instances racing on one database, and faults (server down, network stalled,
//! statements overrunning) answered with `Unavailable` within the budgets, followed by
//! recovery without rebuilding the store. Each test owns a fresh database (`TestDatabase`);
//! without a server they print `SKIPPED` and pass, unless `REQUIRE_POSTGRES=1`.

mod faults;
mod instances;
mod proxy;

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use portcullis_domain::model::{AuditAction, CodePurpose, Role, Roles, StoredCode, User};
use portcullis_domain::ports::{Change, StoreError, UnitOfWork, UserRepository};
use portcullis_store_diesel::test_db::TestDatabase;
use portcullis_store_diesel::{DbConfig, DieselStore, migrate};
use portcullis_testing::fakes::T0;
use portcullis_testing::fixtures::{audit, code, session, user};

async fn open(url: &str) -> DieselStore {
    DieselStore::connect(&DbConfig::new(url)).await.expect("connect")
}

/// A user with a fresh verification code, committed.
async fn user_with_code(store: &DieselStore) -> (User, StoredCode) {
    let laura = user("laura@example.com", T0);
    let c = code(&laura, CodePurpose::VerifyEmail, "123456", T0);
    store.commit(vec![Change::InsertUser(laura.clone()), Change::ReplaceCode(c.clone())]).await.expect("commit");
    (laura, c)
}

#[tokio::test]
async fn migrations_apply_once_and_data_survives_reopening() {
    let Some(db) = TestDatabase::create().await else { return };
    assert_eq!(migrate(db.url()).await.unwrap(), 12);
    assert_eq!(migrate(db.url()).await.unwrap(), 0);
    let laura = user("laura@example.com", T0);
    {
        let store = open(db.url()).await;
        store.commit(vec![Change::InsertUser(laura.clone())]).await.unwrap();
    }
    // `postgresql://` is the other accepted scheme.
    let store = open(&db.url().replacen("postgres://", "postgresql://", 1)).await;
    assert_eq!(store.user_by_id(laura.id).await.unwrap(), Some(laura));
    assert!(format!("{store:?}").contains("postgres"), "{store:?}");
}

#[tokio::test]
async fn bad_urls_are_configuration_errors() {
    let err = DieselStore::connect(&DbConfig::new("postgres://localhost/p?no_such_option=1")).await.unwrap_err();
    assert!(matches!(err, StoreError::Other(_)), "{err:?}");
}

#[derive(QueryableByName, Debug, PartialEq)]
struct Column {
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
}

#[derive(QueryableByName, Debug, PartialEq)]
struct StoredForms {
    #[diesel(sql_type = BigInt)]
    created_ms: i64,
    #[diesel(sql_type = Text)]
    ip: String,
    #[diesel(sql_type = Text)]
    browser: String,
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    roles: String,
}

/// The columns have PostgreSQL's own types, and what is in them is what other tools expect:
/// the instant itself, a host address, a JSON document, the UUID.
#[tokio::test]
async fn columns_use_postgres_types_and_hold_plain_values() {
    let Some(db) = TestDatabase::create().await else { return };
    let store = open(db.url()).await;
    let laura = User { roles: Roles::new([Role::Admin]), ..user("laura@example.com", T0) };
    let s = session(&laura, T0);
    store.commit(vec![Change::InsertUser(laura.clone()), Change::InsertSession(s.clone())]).await.unwrap();
    store.commit(vec![Change::AppendAudit(audit(Some(laura.id), AuditAction::LoginSuccess, T0))]).await.unwrap();

    let mut conn = AsyncPgConnection::establish(db.url()).await.unwrap();
    let columns: Vec<Column> = diesel::sql_query(
        "SELECT column_name::text, data_type::text FROM information_schema.columns
         WHERE (table_name, column_name) IN (('users', 'id'), ('users', 'created_at'), ('users', 'roles'),
           ('sessions', 'ip_address'), ('sessions', 'device'), ('sessions', 'alert_expires_at'),
           ('spent_refresh_tokens', 'digest'), ('spent_refresh_tokens', 'session_id'),
           ('audit_log', 'id'), ('audit_log', 'metadata'))
         ORDER BY table_name, column_name",
    )
    .load(&mut conn)
    .await
    .unwrap();
    let types: Vec<(&str, &str)> = columns.iter().map(|c| (c.column_name.as_str(), c.data_type.as_str())).collect();
    assert_eq!(
        types,
        [
            ("id", "bigint"),
            ("metadata", "jsonb"),
            ("alert_expires_at", "timestamp with time zone"),
            ("device", "jsonb"),
            ("ip_address", "inet"),
            ("digest", "bytea"),
            ("session_id", "uuid"),
            ("created_at", "timestamp with time zone"),
            ("id", "uuid"),
            ("roles", "jsonb"),
        ]
    );

    let stored: StoredForms = diesel::sql_query(
        "SELECT (extract(epoch FROM s.created_at) * 1000)::bigint AS created_ms, host(s.ip_address) AS ip,
                s.device->>'browser' AS browser, u.id::text AS id, u.roles::text AS roles
         FROM sessions s JOIN users u ON u.id = s.user_id",
    )
    .get_result(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        stored,
        StoredForms {
            created_ms: T0.unix_millis(),
            ip: s.ip_address.unwrap().to_string(),
            browser: s.device.browser.clone().unwrap(),
            id: laura.id.to_string(),
            roles: r#"["admin", "user"]"#.to_owned(),
        }
    );
}

/// Accounts created before roles existed (a row without the column) read as plain users:
/// the migration's default is the JSON the store reads.
#[tokio::test]
async fn accounts_stored_without_roles_read_as_plain_users() {
    let Some(db) = TestDatabase::create().await else { return };
    migrate(db.url()).await.unwrap();
    let laura = user("laura@example.com", T0);
    let mut conn = AsyncPgConnection::establish(db.url()).await.unwrap();
    diesel::sql_query(format!(
        "INSERT INTO users (id, name, email, password_hash, status, created_at, updated_at)
         VALUES ('{}', 'laura', 'laura@example.com', 'x', 'active', now(), now())",
        laura.id
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    let store = open(db.url()).await;
    let read = store.user_by_id(laura.id).await.unwrap().expect("user");
    assert_eq!(read.roles, Roles::user());
}
