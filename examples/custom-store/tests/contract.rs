//! The whole published store contract, run against the from-scratch store: one line.

use example_custom_store::MapStore;
use portcullis_testing::contract::Fixture;

portcullis_testing::store_contract_tests!(async { Some(Fixture::new(MapStore::default())) });
