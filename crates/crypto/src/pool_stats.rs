//! What the hashing pool reports about itself: plain numbers and durations, read with
//! atomics, so the server can feed them into whatever metrics library it uses and this crate
//! depends on none.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Called by a hashing thread with how long a job waited in the queue before that thread
/// took it. Runs on the hashing thread: keep it short (record a number, nothing more).
pub type WaitObserver = Arc<dyn Fn(Duration) + Send + Sync>;

/// A snapshot of [`crate::Argon2Hasher::stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HashPoolStats {
    /// Jobs waiting in the queue for a thread now (not those being hashed).
    pub queued: usize,
    /// The queue bound: jobs beyond it are refused with `HashError::Busy`.
    pub capacity: usize,
    /// Hashing threads.
    pub workers: usize,
    /// Jobs refused because the queue was full, since start.
    pub busy_rejections: u64,
    /// Jobs taken from the queue by a thread, since start.
    pub started: u64,
    /// Jobs a thread finished hashing or verifying, since start (cancelled ones skipped).
    pub finished: u64,
    /// Time threads spent hashing or verifying those jobs, in total: `hashing_time /
    /// finished` is the cost of one hash on this machine under the current load.
    pub hashing_time: Duration,
    /// Times a thread scrubbed its memory, since start: after an idle spell of
    /// `Argon2Config::scrub_after`, or when stopping with password-derived memory.
    pub scrubs: u64,
}

/// The counters shared by the hasher handle and its threads.
pub(crate) struct PoolState {
    capacity: usize,
    workers: usize,
    queued: AtomicUsize,
    busy_rejections: AtomicU64,
    started: AtomicU64,
    finished: AtomicU64,
    hashing_nanos: AtomicU64,
    scrubs: AtomicU64,
    observer: OnceLock<WaitObserver>,
}

impl PoolState {
    pub(crate) fn new(capacity: usize, workers: usize) -> Self {
        Self {
            capacity,
            workers,
            queued: AtomicUsize::new(0),
            busy_rejections: AtomicU64::new(0),
            started: AtomicU64::new(0),
            finished: AtomicU64::new(0),
            hashing_nanos: AtomicU64::new(0),
            scrubs: AtomicU64::new(0),
            observer: OnceLock::new(),
        }
    }

    /// Counted *before* the job is offered to the queue, so a thread that takes it at once
    /// can never decrement first and wrap the counter below zero.
    pub(crate) fn offering(&self) {
        self.queued.fetch_add(1, Ordering::Relaxed);
    }

    /// The offered job did not enter the queue; `full` says whether that was saturation.
    pub(crate) fn refused(&self, full: bool) {
        self.queued.fetch_sub(1, Ordering::Relaxed);
        if full {
            self.busy_rejections.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A thread took a job that had waited `waited`.
    pub(crate) fn taken(&self, waited: Duration) {
        self.queued.fetch_sub(1, Ordering::Relaxed);
        self.started.fetch_add(1, Ordering::Relaxed);
        if let Some(observe) = self.observer.get() {
            // A panicking observer must not take a hashing thread down with it.
            let _ = catch_unwind(AssertUnwindSafe(|| observe(waited)));
        }
    }

    /// A thread finished one hash or verification that took `took`.
    pub(crate) fn finished(&self, took: Duration) {
        self.finished.fetch_add(1, Ordering::Relaxed);
        self.hashing_nanos.fetch_add(u64::try_from(took.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// A thread scrubbed its memory.
    pub(crate) fn scrubbed(&self) {
        self.scrubs.fetch_add(1, Ordering::Relaxed);
    }

    /// Sets the observer once; `false` when one was already set.
    pub(crate) fn set_observer(&self, observer: WaitObserver) -> bool {
        self.observer.set(observer).is_ok()
    }

    pub(crate) fn snapshot(&self) -> HashPoolStats {
        HashPoolStats {
            // Between `offering` and `refused` a refused job is briefly counted: never
            // report more than can actually wait.
            queued: self.queued.load(Ordering::Relaxed).min(self.capacity),
            capacity: self.capacity,
            workers: self.workers,
            busy_rejections: self.busy_rejections.load(Ordering::Relaxed),
            started: self.started.load(Ordering::Relaxed),
            finished: self.finished.load(Ordering::Relaxed),
            hashing_time: Duration::from_nanos(self.hashing_nanos.load(Ordering::Relaxed)),
            scrubs: self.scrubs.load(Ordering::Relaxed),
        }
    }
}
