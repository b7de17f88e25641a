//! The store contract suite of `portcullis-testing` against the store whose users live in the
//! application's `accounts` table: every rule a Portcullis store must keep (duplicate
//! addresses refused, a failed commit applying nothing, searches, session reads with their
//! owner, ...) holds with the user half in the application's hands. Each case runs on a fresh
//! PostgreSQL database (skipped without a server unless `REQUIRE_POSTGRES=1`).

use example_own_user_table::{Accounts, connect};
use portcullis_store_diesel::own_users::OwnUsersStore;
use portcullis_store_diesel::test_db::TestDatabase;
use portcullis_testing::contract::Fixture;

async fn fresh_store() -> Option<Fixture<OwnUsersStore<Accounts>>> {
    let db = TestDatabase::create().await?;
    let store = connect(db.url()).await.expect("connect");
    Some(Fixture::with_guard(store, db))
}

mod contract {
    portcullis_testing::store_contract_tests!(async { super::fresh_store().await });
}
