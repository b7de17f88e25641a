//! Argon2id password hashing on a dedicated, bounded pool of OS threads.
//!
//! One hash costs 10 to 30 ms of a core (engine and machine). Run on the async workers it
//! would stall every other request; run on an unbounded blocking pool it would queue without
//! limit under a login flood. So `workers` threads take jobs from a bounded channel of
//! `max_queue` slots, and a full queue answers [`HashError::Busy`] at once. Results come back
//! through `tokio::sync::oneshot`, which needs no runtime. [`Argon2Hasher::stats`] and
//! [`Argon2Hasher::observe_wait`] tell operators how full the queue is and how long jobs wait.
//! A thread that has hashed and then finds no job for [`Argon2Config::scrub_after`] scrubs
//! its memory.

use std::future::Future;
use std::num::NonZeroUsize;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash as PhcHash, Salt};
use argon2::{Algorithm, Params, Version};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError, bounded};
use portcullis_domain::model::{Password, PasswordHash};
use portcullis_domain::ports::{HashError, PasswordHasher};
use tokio::sync::oneshot;

use crate::CryptoError;
use crate::argon2_engine::{Argon2Engine, EngineState, TagError, TagSpec, scrub_stack};
use crate::pool_stats::{HashPoolStats, PoolState, WaitObserver};

/// What a client is told to wait when the pool is saturated.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The default of [`Argon2Config::scrub_after`].
///
/// A second bounds both sides. A scrub costs about half a hash (5 ms at the defaults), and a
/// thread scrubs at most once per idle spell of this length, so scrubbing can never take more
/// than `workers × 5 ms` of CPU a second (0.5% of each core), whatever the load: with jobs
/// handed round the threads in turn, a shorter delay would scrub after nearly every hash at
/// a moderate rate (below `workers / delay` jobs a second), where it would cost more than
/// the per-hash wipe it replaces. And password-derived memory outlives its hash by at most
/// this, plus the scrub's own few milliseconds, when no other job overwrites it first.
pub const SCRUB_AFTER: Duration = Duration::from_secs(1);

/// Argon2id cost and pool size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Argon2Config {
    /// Memory cost `m` in KiB.
    pub memory_kib: u32,
    /// Time cost `t` (passes over memory).
    pub iterations: u32,
    /// Lanes `p`. Computed sequentially within one job; the pool provides the parallelism.
    pub parallelism: u32,
    /// Hashing threads (at least 1).
    pub workers: usize,
    /// Jobs that may wait for a thread before callers get [`HashError::Busy`].
    pub max_queue: usize,
    /// The implementation that computes the tags (the PHC strings are the same).
    pub engine: Argon2Engine,
    /// How long a thread that has hashed waits for its next job before it scrubs its memory
    /// (see [`SCRUB_AFTER`] and `crates/crypto/README.md`).
    pub scrub_after: Duration,
}

impl Default for Argon2Config {
    /// OWASP's first recommendation (m = 19456 KiB, t = 2, p = 1), one thread per CPU and
    /// 64 waiting jobs (about one second of work on two cores).
    fn default() -> Self {
        Self {
            memory_kib: Params::DEFAULT_M_COST,
            iterations: Params::DEFAULT_T_COST,
            parallelism: Params::DEFAULT_P_COST,
            workers: std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
            max_queue: 64,
            engine: Argon2Engine::default(),
            scrub_after: SCRUB_AFTER,
        }
    }
}

/// A job and when it was queued, to measure how long it waited for a thread.
type Queued = (Instant, Job);

/// A unit of work for the pool. The password travels inside its `SecretString`, which is
/// wiped when the job is dropped.
enum Job {
    Hash { password: Password, reply: oneshot::Sender<Result<PasswordHash, HashError>> },
    Verify { password: Password, hash: PasswordHash, reply: oneshot::Sender<Result<bool, HashError>> },
}

/// [`PasswordHasher`] producing Argon2id v19 PHC strings on a bounded thread pool.
///
/// Dropping the hasher closes the queue; the threads finish the jobs already queued and exit.
pub struct Argon2Hasher {
    jobs: Sender<Queued>,
    state: Arc<PoolState>,
    dummy: PasswordHash,
    params: Params,
}

impl Argon2Hasher {
    /// Checks the parameters, computes the dummy hash and starts the worker threads.
    ///
    /// # Errors
    /// [`CryptoError::Config`] for parameters argon2 refuses or zero workers,
    /// [`CryptoError::Worker`] when a thread cannot be spawned.
    pub fn new(cfg: Argon2Config) -> Result<Self, CryptoError> {
        if cfg.workers == 0 {
            return Err(CryptoError::Config("argon2 workers must be at least 1".into()));
        }
        let params = Params::new(cfg.memory_kib, cfg.iterations, cfg.parallelism, None)
            .map_err(|e| CryptoError::Config(format!("argon2 parameters: {e}")))?;

        // Hashed once here, on the calling thread, so unknown-address logins verify against a
        // hash with exactly the configured cost.
        let mut random_password = [0u8; 32];
        getrandom::fill(&mut random_password).map_err(|e| CryptoError::Random(e.to_string()))?;
        let random_password =
            Password::new(&base64::Engine::encode(&base64::engine::general_purpose::STANDARD_NO_PAD, random_password));
        let mut engine = EngineState::new(cfg.engine);
        let dummy = hash(&params, &mut engine, &random_password).map_err(|e| CryptoError::Hash(e.to_string()))?;
        // Its password is thrown away; the memory that could reveal it goes the same way.
        engine.scrub().map_err(|e| CryptoError::Hash(e.to_string()))?;
        scrub_stack();

        let (jobs, queue) = bounded(cfg.max_queue);
        let state = Arc::new(PoolState::new(cfg.max_queue, cfg.workers));
        for i in 0..cfg.workers {
            let (params, queue, state) = (params.clone(), queue.clone(), Arc::clone(&state));
            let (engine, scrub_after) = (cfg.engine, cfg.scrub_after);
            // On failure `jobs` is dropped on return, which stops the threads already started.
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || work(&params, EngineState::new(engine), &queue, &state, scrub_after))
                .map_err(CryptoError::Worker)?;
        }
        Ok(Self { jobs, state, dummy, params })
    }

    /// Queue depth, queue bound, threads and refusals, read now without locking.
    pub fn stats(&self) -> HashPoolStats {
        self.state.snapshot()
    }

    /// Has every hashing thread report, for each job it takes from now on, how long that job
    /// waited in the queue. Only one observer can be set: returns `false` (and drops
    /// `observer`) when one already is.
    pub fn observe_wait(&self, observer: impl Fn(Duration) + Send + Sync + 'static) -> bool {
        self.gauge().observe_wait(observer)
    }

    /// A handle that reads this pool's counters and nothing else, for a metrics exporter
    /// that must not hold the hasher itself (it lives inside the service).
    pub fn gauge(&self) -> HashPoolGauge {
        HashPoolGauge { state: Arc::clone(&self.state) }
    }
}

impl Argon2Hasher {
    /// Queues `job` now, at call time rather than first poll, so that saturation is reported
    /// immediately and a burst is judged in arrival order.
    fn submit(&self, job: Job) -> Result<(), HashError> {
        self.state.offering();
        match self.jobs.try_send((Instant::now(), job)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => {
                self.state.refused(true);
                Err(HashError::Busy { retry_after: RETRY_AFTER })
            }
            Err(TrySendError::Disconnected(_)) => {
                self.state.refused(false);
                Err(HashError::Internal("password hashing pool has stopped".into()))
            }
        }
    }
}

impl std::fmt::Debug for Argon2Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Argon2Hasher").finish_non_exhaustive()
    }
}

async fn receive<T>(reply: Result<oneshot::Receiver<Result<T, HashError>>, HashError>) -> Result<T, HashError> {
    reply?.await.map_err(|_| HashError::Internal("password hashing worker dropped the job".into()))?
}

/// The hashing pool's counters, readable without the hasher ([`Argon2Hasher::gauge`]).
#[derive(Clone)]
pub struct HashPoolGauge {
    state: Arc<PoolState>,
}

impl std::fmt::Debug for HashPoolGauge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("HashPoolGauge").field(&self.stats()).finish()
    }
}

impl HashPoolGauge {
    /// As [`Argon2Hasher::stats`].
    pub fn stats(&self) -> HashPoolStats {
        self.state.snapshot()
    }

    /// As [`Argon2Hasher::observe_wait`].
    pub fn observe_wait(&self, observer: impl Fn(Duration) + Send + Sync + 'static) -> bool {
        let observer: WaitObserver = Arc::new(observer);
        self.state.set_observer(observer)
    }
}

impl PasswordHasher for Argon2Hasher {
    // Written as plain functions returning futures (not `async fn`) so the job is queued when
    // called; see `submit`.
    fn hash(&self, password: Password) -> impl Future<Output = Result<PasswordHash, HashError>> + Send {
        let (reply, answer) = oneshot::channel();
        receive(self.submit(Job::Hash { password, reply }).map(|()| answer))
    }

    fn verify(&self, password: Password, hash: PasswordHash) -> impl Future<Output = Result<bool, HashError>> + Send {
        let (reply, answer) = oneshot::channel();
        receive(self.submit(Job::Verify { password, hash, reply }).map(|()| answer))
    }

    fn dummy_hash(&self) -> PasswordHash {
        self.dummy.clone()
    }

    /// True unless `hash` is Argon2id v19 with exactly the configured m, t and p. A hash
    /// that does not parse also asks for a rehash (after a successful verify it cannot be
    /// anything we can read, but replacing it is the safe answer).
    fn needs_rehash(&self, hash: &PasswordHash) -> bool {
        let Ok(phc) = PhcHash::new(hash.as_str()) else { return true };
        if phc.algorithm.as_str() != Algorithm::Argon2id.ident().as_str() || phc.version != Some(Version::V0x13.into())
        {
            return true;
        }
        match Params::try_from(&phc) {
            Ok(p) => {
                p.m_cost() != self.params.m_cost()
                    || p.t_cost() != self.params.t_cost()
                    || p.p_cost() != self.params.p_cost()
            }
            Err(_) => true,
        }
    }
}

/// A worker thread: runs jobs until the hasher is dropped, scrubbing its memory whenever it
/// has hashed and then waited `scrub_after` for nothing, and before it exits.
fn work(params: &Params, mut engine: EngineState, queue: &Receiver<Queued>, state: &PoolState, scrub_after: Duration) {
    let mut holds_secrets = false;
    loop {
        let next = if holds_secrets {
            match queue.recv_timeout(scrub_after) {
                Ok(next) => Some(next),
                Err(RecvTimeoutError::Timeout) => {
                    scrub(&mut engine, state);
                    holds_secrets = false;
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => None,
            }
        } else {
            queue.recv().ok()
        };
        let Some((queued_at, job)) = next else {
            if holds_secrets {
                scrub(&mut engine, state);
            }
            return;
        };
        state.taken(queued_at.elapsed());
        match job {
            Job::Hash { password, reply } => {
                // Skip work nobody waits for (the request was cancelled).
                if !reply.is_closed() {
                    holds_secrets = true;
                    let _ = reply.send(timed(state, || guarded(|| hash(params, &mut engine, &password))));
                }
            }
            Job::Verify { password, hash, reply } => {
                if !reply.is_closed() {
                    holds_secrets = true;
                    let _ = reply.send(timed(state, || guarded(|| verify(&mut engine, &password, &hash))));
                }
            }
        }
    }
}

/// [`EngineState::scrub`] and [`scrub_stack`], counted. Called from [`work`] itself, so the
/// stack scrub's frame lies where the hash's frames were. The memory scrub needs nothing
/// beyond what the thread holds, so it should not fail; if it does, the memory is let go
/// instead ([`EngineState::forget`]) and the next job allocates afresh.
fn scrub(engine: &mut EngineState, state: &PoolState) {
    let scrubbed = catch_unwind(AssertUnwindSafe(|| engine.scrub())).is_ok_and(|r| r.is_ok());
    if !scrubbed {
        engine.forget();
    }
    scrub_stack();
    state.scrubbed();
}

/// Runs `f`, adding its duration to the pool's hashing time.
fn timed<T>(state: &PoolState, f: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let out = f();
    state.finished(started.elapsed());
    out
}

/// Keeps the thread alive if argon2 ever panics, so one bad job cannot shrink the pool.
fn guarded<T>(f: impl FnOnce() -> Result<T, HashError>) -> Result<T, HashError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| Err(HashError::Internal("password hashing panicked".into())))
}

/// Salt bytes of new hashes (the PHC recommendation).
const SALT_LEN: usize = 16;

impl From<TagError> for HashError {
    fn from(e: TagError) -> Self {
        match e {
            TagError::OutOfMemory => HashError::Internal(e.to_string()),
            // Bad salt, output or parameters: only a stored string can bring those.
            TagError::Invalid(_) => HashError::Malformed,
        }
    }
}

/// A new Argon2id v19 hash of `password` under `params`, with a random salt.
fn hash(params: &Params, engine: &mut EngineState, password: &Password) -> Result<PasswordHash, HashError> {
    let internal = |e: &dyn std::fmt::Display| HashError::Internal(e.to_string());
    let mut salt = [0u8; SALT_LEN];
    getrandom::fill(&mut salt).map_err(|e| internal(&e))?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    let spec = TagSpec::password(Algorithm::Argon2id, Version::V0x13, params);
    engine.tag(&spec, password.expose().as_bytes(), &salt, &mut out).map_err(|e| internal(&e))?;
    let phc = PhcHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(|e| internal(&e))?,
        salt: Some(Salt::new(&salt).map_err(|e| internal(&e))?),
        hash: Some(Output::new(&out).map_err(|e| internal(&e))?),
    };
    Ok(PasswordHash::new(phc.to_string()))
}

/// Verifies with the algorithm, version and parameters stored in `hash`: the configured ones
/// only apply to new hashes, so raising the cost never locks anyone out. The comparison is
/// constant-time (`subtle`), whichever engine computed the tag.
fn verify(engine: &mut EngineState, password: &Password, hash: &PasswordHash) -> Result<bool, HashError> {
    let stored = PhcHash::new(hash.as_str()).map_err(|_| HashError::Malformed)?;
    let algorithm = Algorithm::new(stored.algorithm.as_str()).map_err(|_| HashError::Malformed)?;
    let version = match stored.version {
        Some(v) => Version::try_from(v).map_err(|_| HashError::Malformed)?,
        None => Version::default(),
    };
    let params = Params::try_from(&stored).map_err(|_| HashError::Malformed)?;
    let (Some(salt), Some(expected)) = (&stored.salt, &stored.hash) else { return Err(HashError::Malformed) };
    // The tag length is the stored one.
    let mut out = [0u8; Output::MAX_LENGTH];
    let out = out.get_mut(..expected.len()).ok_or(HashError::Malformed)?;
    let spec = TagSpec::password(algorithm, version, &params);
    engine.tag(&spec, password.expose().as_bytes(), salt.as_ref(), out)?;
    Ok(bool::from(subtle::ConstantTimeEq::ct_eq(&*out, expected.as_ref())))
}

#[cfg(test)]
#[path = "argon2_hasher_tests.rs"]
mod tests;
