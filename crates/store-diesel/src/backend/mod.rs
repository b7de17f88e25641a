//! What differs between the two backends, one module each: opening and migrating the
//! database, the pool, and the few statements that must differ for race freedom. The
//! [`crate::detached`] macros bind the module of the configured backend to a name (`db` by
//! convention) inside a query body, so a body written once calls `db::skip_locked!(..)` and
//! gets the right statement for each backend.
//!
//! Both modules offer the same hook:
//! - `skip_locked!(query)`: make a claim query pass over rows another transaction holds.
//!
//! The rate limiter differs by more than a statement: see [`crate::rate_limit`].

pub(crate) mod postgres;
pub(crate) mod sqlite;
