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
use portcullis_domain::model::{AuditAction, CodePurpose, StoredCode, User};
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
    assert_eq!(migrate(db.url()).await.unwrap(), 4);
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
}

/// The columns have PostgreSQL's own types, and what is in them is what other tools expect:
/// the instant itself, a host address, a JSON document, the UUID.
#[tokio::test]
async fn columns_use_postgres_types_and_hold_plain_values() {
    let Some(db) = TestDatabase::create().await else { return };
    let store = open(db.url()).await;
    let laura = user("laura@example.com", T0);
    let s = session(&laura, T0);
    store.commit(vec![Change::InsertUser(laura.clone()), Change::InsertSession(s.clone())]).await.unwrap();
    store.commit(vec![Change::AppendAudit(audit(Some(laura.id), AuditAction::LoginSuccess, T0))]).await.unwrap();

    let mut conn = AsyncPgConnection::establish(db.url()).await.unwrap();
    let columns: Vec<Column> = diesel::sql_query(
        "SELECT column_name::text, data_type::text FROM information_schema.columns
         WHERE (table_name, column_name) IN (('users', 'id'), ('users', 'created_at'),
           ('sessions', 'ip_address'), ('sessions', 'device'), ('audit_log', 'id'), ('audit_log', 'metadata'))
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
            ("device", "jsonb"),
            ("ip_address", "inet"),
            ("created_at", "timestamp with time zone"),
            ("id", "uuid"),
        ]
    );

    let stored: StoredForms = diesel::sql_query(
        "SELECT (extract(epoch FROM s.created_at) * 1000)::bigint AS created_ms, host(s.ip_address) AS ip,
                s.device->>'browser' AS browser, u.id::text AS id
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
        }
    );
}
