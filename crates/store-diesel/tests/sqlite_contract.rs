//! The shared store contract suite of `portcullis-testing`, run against SQLite: every case
//! on a fresh database file in its own temporary directory, which goes with the case.

use portcullis_store_diesel::{DbConfig, DieselStore};
use portcullis_testing::contract::Fixture;

async fn fresh_store() -> Option<Fixture<DieselStore>> {
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = DbConfig::new(format!("sqlite://{}", dir.path().join("contract.db").display()));
    let store = DieselStore::connect(&cfg).await.expect("connect");
    Some(Fixture::with_guard(store, dir))
}

mod contract {
    portcullis_testing::store_contract_tests!(async { super::fresh_store().await });
}

mod webhook_contract {
    portcullis_testing::webhook_store_contract_tests!(async { super::fresh_store().await });
}
