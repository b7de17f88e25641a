//! The shared store contract suite of `portcullis-testing`, run against PostgreSQL: every
//! case on a database of its own (`test_db::TestDatabase`), created on the server named by
//! `TEST_DATABASE_URL`, migrated by `connect`, and dropped when the case ends. Without a
//! server each case prints `SKIPPED` and passes, unless `REQUIRE_POSTGRES=1`.

use portcullis_store_diesel::test_db::TestDatabase;
use portcullis_store_diesel::{DbConfig, DieselStore};
use portcullis_testing::contract::Fixture;

async fn fresh_store() -> Option<Fixture<DieselStore>> {
    let db = TestDatabase::create().await?;
    let store = DieselStore::connect(&DbConfig::new(db.url())).await.expect("connect");
    Some(Fixture::with_guard(store, db))
}

mod contract {
    portcullis_testing::store_contract_tests!(async { super::fresh_store().await });
}

mod webhook_contract {
    portcullis_testing::webhook_store_contract_tests!(async { super::fresh_store().await });
}
