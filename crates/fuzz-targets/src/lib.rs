//! What Portcullis fuzzes: every parser of outside input, as plain functions of bytes.
//!
//! `crates/fuzz` (cargo-fuzz, libFuzzer) has one target per function here; `make fuzz` runs
//! each for a bounded time and CI a short smoke of each. A function panics when the input
//! breaks one of its properties, so libFuzzer reports it as a crash; the input then goes
//! into `regressions/<target>/`, which `make test` replays through [`run`] (see
//! `tests/regressions.rs`).

mod bearer;
mod bodies;
mod forwarded;
mod passkeys;
mod queries;
mod seeds;
mod values;

pub use bearer::bearer_tokens;
pub use bodies::request_bodies;
pub use forwarded::forwarded_for;
pub use passkeys::passkey_responses;
pub use queries::query_strings;
pub use seeds::seeds;
pub use values::value_objects;

/// Every target, by the name its cargo-fuzz binary has.
pub const TARGETS: [&str; 6] =
    ["request_bodies", "value_objects", "bearer_tokens", "forwarded_for", "query_strings", "passkey_responses"];

/// Runs target `name` on `data`; `false` for an unknown name.
pub fn run(name: &str, data: &[u8]) -> bool {
    match name {
        "request_bodies" => request_bodies(data),
        "value_objects" => value_objects(data),
        "bearer_tokens" => bearer_tokens(data),
        "forwarded_for" => forwarded_for(data),
        "query_strings" => query_strings(data),
        "passkey_responses" => passkey_responses(data),
        _ => return false,
    }
    true
}
