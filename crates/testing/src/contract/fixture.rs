//! [`Fixture`]: what a contract case runs on.

/// A store for one contract case, with an optional guard that lives exactly as long: the
/// temporary directory of a SQLite file, the fresh PostgreSQL database, ... The store is
/// dropped first, so its connections are closed before the guard cleans up.
pub struct Fixture<S> {
    // Field order is drop order: the store before its guard.
    store: S,
    _guard: Option<Box<dyn Send>>,
}

impl<S> Fixture<S> {
    /// A store that needs nothing kept alive beside it.
    pub fn new(store: S) -> Self {
        Self { store, _guard: None }
    }

    /// A store together with what must outlive it; `guard` is dropped after the store.
    pub fn with_guard(store: S, guard: impl Send + 'static) -> Self {
        Self { store, _guard: Some(Box::new(guard)) }
    }

    /// The store under test.
    pub fn store(&self) -> &S {
        &self.store
    }
}

impl<S: std::fmt::Debug> std::fmt::Debug for Fixture<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fixture").field("store", &self.store).field("guarded", &self._guard.is_some()).finish()
    }
}
