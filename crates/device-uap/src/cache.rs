//! A bounded, sharded cache of parsed user agents.
//!
//! Parsing costs tens of microseconds of regex work while a lookup costs well under one, and real traffic
//! repeats a few hundred user agents, so a small cache takes the parser off nearly every request. Sharding
//! keeps concurrent requests from queueing on one lock; each lock guards only a map lookup or insert, never
//! a parse. Eviction is deliberately simple: a full shard is cleared. With 16 shards that forgets at most a
//! sixteenth of the cache at once, it costs nothing on hits (no recency bookkeeping under the lock), and a
//! flood of distinct junk user agents can only churn the cache, not grow it.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Mutex, MutexGuard, PoisonError};

use portcullis_domain::model::Device;

/// Most shards; fewer when the capacity is smaller, so that the total never exceeds the capacity.
const MAX_SHARDS: usize = 16;

/// One lock's worth of the cache.
type Shard = Mutex<HashMap<Box<str>, Device>>;

/// Maps a (truncated) user agent to its parsed [`Device`], holding at most `capacity` entries.
#[derive(Debug)]
pub(crate) struct DeviceCache {
    shards: Box<[Shard]>,
    per_shard: usize,
    hasher: RandomState,
}

impl DeviceCache {
    /// A cache of at most `capacity` entries; `0` disables caching.
    pub(crate) fn new(capacity: usize) -> Self {
        let shards = capacity.min(MAX_SHARDS);
        let per_shard = capacity.checked_div(shards).unwrap_or(0);
        Self {
            shards: (0..shards).map(|_| Mutex::new(HashMap::with_capacity(per_shard.min(1024)))).collect(),
            per_shard,
            hasher: RandomState::new(),
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<Device> {
        self.shard(key).and_then(|s| lock(s).get(key).cloned())
    }

    pub(crate) fn insert(&self, key: &str, device: Device) {
        let Some(shard) = self.shard(key) else { return };
        let mut map = lock(shard);
        if map.len() >= self.per_shard && !map.contains_key(key) {
            map.clear();
        }
        map.insert(key.into(), device);
    }

    /// Entries currently held, summed over the shards (each locked in turn, so approximate under load).
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).len()).sum()
    }

    /// The most entries the cache will hold.
    pub(crate) fn capacity(&self) -> usize {
        self.per_shard * self.shards.len()
    }

    fn shard(&self, key: &str) -> Option<&Shard> {
        if self.shards.is_empty() {
            return None;
        }
        // The low bits pick the shard; the map rehashes with its own state, so this does not skew buckets.
        let index = usize::try_from(self.hasher.hash_one(key) % self.shards.len() as u64).unwrap_or(0);
        self.shards.get(index)
    }
}

/// A poisoned shard only means another thread panicked between two map calls; the map is still consistent.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
