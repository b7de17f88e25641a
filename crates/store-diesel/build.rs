//! `embed_migrations!` reads the SQL at compile time; without this hint cargo would not
//! rebuild the crate when only a migration file changed.

fn main() {
    println!("cargo:rerun-if-changed=../../migrations/sqlite");
    println!("cargo:rerun-if-changed=../../migrations/postgres");
}
