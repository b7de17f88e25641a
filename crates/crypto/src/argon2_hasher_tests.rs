//! Tests of the Argon2 pool. Small parameters (m = 1024 KiB, t = 1) keep them fast, except
//! for one run at the defaults.

use std::sync::Mutex;

use super::*;

fn small(workers: usize, max_queue: usize) -> Argon2Config {
    Argon2Config {
        memory_kib: 1024,
        iterations: 1,
        parallelism: 1,
        workers,
        max_queue,
        engine: Argon2Engine::default(),
        scrub_after: SCRUB_AFTER,
    }
}

/// [`small`] on `engine`.
fn small_on(engine: Argon2Engine) -> Argon2Config {
    Argon2Config { engine, ..small(1, 2) }
}

fn pw(s: &str) -> Password {
    Password::new(s)
}

#[tokio::test]
async fn hash_then_verify() {
    let hasher = Argon2Hasher::new(small(2, 8)).unwrap();
    let hash = hasher.hash(pw("correct horse battery staple")).await.unwrap();
    assert!(hash.as_str().starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{}", hash.as_str());
    assert!(hasher.verify(pw("correct horse battery staple"), hash.clone()).await.unwrap());
    assert!(!hasher.verify(pw("correct horse battery stapler"), hash.clone()).await.unwrap());
    // Salted: the same password never hashes the same way twice.
    assert_ne!(hasher.hash(pw("correct horse battery staple")).await.unwrap(), hash);
}

#[tokio::test]
async fn malformed_hash_is_reported() {
    let hasher = Argon2Hasher::new(small(1, 8)).unwrap();
    for bad in ["", "not a hash", "$argon2id$v=19$m=1024,t=1,p=1$", "$bcrypt$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaA"] {
        let result = hasher.verify(pw("x"), PasswordHash::new(bad.into())).await;
        assert!(matches!(result, Err(HashError::Malformed)), "{bad:?}: {result:?}");
    }
}

#[tokio::test]
async fn verify_uses_the_parameters_in_the_hash() {
    let cheap = Argon2Hasher::new(small(1, 8)).unwrap();
    let hash = cheap.hash(pw("hunter2 hunter2")).await.unwrap();
    let other = Argon2Hasher::new(Argon2Config { memory_kib: 2048, iterations: 2, ..small(1, 8) }).unwrap();
    assert!(other.verify(pw("hunter2 hunter2"), hash.clone()).await.unwrap());
    assert!(!other.verify(pw("hunter3 hunter3"), hash).await.unwrap());
}

#[tokio::test]
async fn default_parameters_work() {
    let cfg = Argon2Config::default();
    assert_eq!((cfg.memory_kib, cfg.iterations, cfg.parallelism, cfg.max_queue), (19_456, 2, 1, 64));
    assert!(cfg.workers >= 1);
    let hasher = Argon2Hasher::new(cfg).unwrap();
    assert!(hasher.dummy_hash().as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    let hash = hasher.hash(pw("a default-cost password")).await.unwrap();
    assert!(hasher.verify(pw("a default-cost password"), hash).await.unwrap());
}

#[tokio::test]
async fn busy_when_the_queue_is_full() {
    let hasher = Argon2Hasher::new(Argon2Config { memory_kib: 8192, iterations: 2, ..small(1, 1) }).unwrap();
    let hash = hasher.dummy_hash();
    // Queued at call time: one job runs, one waits, the rest find the queue full.
    let pending: Vec<_> = (0..16).map(|_| hasher.verify(pw("guess"), hash.clone())).collect();
    let mut busy = 0;
    let mut done = 0;
    for result in pending {
        match result.await {
            Err(HashError::Busy { retry_after }) => {
                assert_eq!(retry_after, Duration::from_secs(1));
                busy += 1;
            }
            Ok(false) => done += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(busy >= 8, "busy {busy}, done {done}");
    assert!((1..=8).contains(&done), "busy {busy}, done {done}");
    // The pool recovers once the burst has drained.
    assert!(!hasher.verify(pw("guess"), hash).await.unwrap());
}

#[test]
fn works_without_a_tokio_runtime() {
    // Only oneshot is used, so any executor (here a trivial blocking one) will do.
    let hasher = Argon2Hasher::new(small(1, 1)).unwrap();
    let hash = hasher.dummy_hash();
    let result = block_on(hasher.verify(pw("x"), hash));
    assert!(!result.unwrap());
}

#[tokio::test]
async fn dummy_hash_is_a_valid_phc_with_the_configured_parameters() {
    let hasher = Argon2Hasher::new(small(1, 4)).unwrap();
    let dummy = hasher.dummy_hash();
    let parsed = PhcHash::new(dummy.as_str()).unwrap();
    assert_eq!(parsed.algorithm.as_str(), "argon2id");
    assert!(dummy.as_str().starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
    // Verifying it costs real work and simply does not match.
    assert!(!hasher.verify(pw("anything"), dummy.clone()).await.unwrap());
    assert_eq!(hasher.dummy_hash(), dummy, "computed once");
    assert_ne!(Argon2Hasher::new(small(1, 4)).unwrap().dummy_hash(), dummy, "random per hasher");
}

#[tokio::test]
async fn needs_no_rehash_for_its_own_hashes() {
    let hasher = Argon2Hasher::new(small(1, 4)).unwrap();
    let hash = hasher.hash(pw("a perfectly good passphrase")).await.unwrap();
    assert!(!hasher.needs_rehash(&hash));
    assert!(!hasher.needs_rehash(&hasher.dummy_hash()));
}

#[tokio::test]
async fn needs_rehash_when_any_cost_parameter_differs() {
    let current = Argon2Hasher::new(small(1, 4)).unwrap();
    for other in [
        Argon2Config { memory_kib: 2048, ..small(1, 4) },
        Argon2Config { iterations: 2, ..small(1, 4) },
        Argon2Config { parallelism: 2, ..small(1, 4) },
    ] {
        let older = Argon2Hasher::new(other.clone()).unwrap();
        let hash = older.hash(pw("a perfectly good passphrase")).await.unwrap();
        assert!(!older.needs_rehash(&hash), "{other:?}: its own hash");
        assert!(current.needs_rehash(&hash), "{other:?}: {}", hash.as_str());
        // And the other way round: a hash at today's cost is stale for the other hasher.
        assert!(older.needs_rehash(&current.dummy_hash()), "{other:?}");
    }
}

#[test]
fn needs_rehash_for_other_algorithms_versions_and_garbage() {
    let hasher = Argon2Hasher::new(small(1, 4)).unwrap();
    // Same salt and output as a real hash; only the algorithm or version differs.
    let own = hasher.dummy_hash();
    let rest = own.as_str().strip_prefix("$argon2id$v=19$").unwrap();
    for other in [
        format!("$argon2i$v=19${rest}"),
        format!("$argon2d$v=19${rest}"),
        format!("$argon2id$v=16${rest}"),
        format!("$argon2id${rest}"),
        "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW".to_owned(),
        "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E".to_owned(),
        "$argon2id$v=19$m=1024,t=1,p=1$".to_owned(),
        "not a hash".to_owned(),
        String::new(),
    ] {
        assert!(hasher.needs_rehash(&PasswordHash::new(other.clone())), "{other:?}");
    }
}

#[test]
fn rejects_bad_configuration() {
    assert!(matches!(Argon2Hasher::new(small(0, 4)), Err(CryptoError::Config(_))));
    assert!(matches!(Argon2Hasher::new(Argon2Config { memory_kib: 1, ..small(1, 4) }), Err(CryptoError::Config(_))));
    assert!(matches!(Argon2Hasher::new(Argon2Config { iterations: 0, ..small(1, 4) }), Err(CryptoError::Config(_))));
}

/// Drives a future on the current thread, parking until the worker's reply wakes it.
fn block_on<F: Future>(future: F) -> F::Output {
    use std::pin::pin;
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};
    use std::thread::Thread;

    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }

    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}

#[test]
fn stats_start_with_the_configuration() {
    let hasher = Argon2Hasher::new(small(3, 7)).unwrap();
    let stats = hasher.stats();
    let idle = HashPoolStats {
        queued: 0,
        capacity: 7,
        workers: 3,
        busy_rejections: 0,
        started: 0,
        finished: 0,
        hashing_time: Duration::ZERO,
        scrubs: 0,
    };
    assert_eq!(stats, idle);
}

#[test]
fn stats_add_up_the_time_spent_hashing() {
    let hasher = Argon2Hasher::new(small(1, 2)).unwrap();
    let started = std::time::Instant::now();
    for _ in 0..3 {
        assert!(!block_on(hasher.verify(pw("x"), hasher.dummy_hash())).unwrap());
    }
    let wall = started.elapsed();
    let stats = hasher.stats();
    assert_eq!(stats.finished, 3);
    assert!(stats.hashing_time > Duration::ZERO, "{stats:?}");
    // One thread, one job at a time: the hashing time fits inside the wall-clock time.
    assert!(stats.hashing_time <= wall, "{stats:?} vs {wall:?}");
}

#[tokio::test]
async fn stats_count_queued_jobs_refusals_and_waits() {
    use std::sync::mpsc::{Receiver, channel};

    let hasher = Argon2Hasher::new(small(1, 2)).unwrap();
    // The observer runs on the hashing thread right after it takes a job: holding it there
    // keeps the only thread busy, so the queue fills deterministically.
    let (seen_tx, seen) = channel::<Duration>();
    let (release, release_rx) = channel::<()>();
    let release_rx: Mutex<Receiver<()>> = Mutex::new(release_rx);
    assert!(hasher.observe_wait(move |waited| {
        let _ = seen_tx.send(waited);
        let _ = release_rx.lock().unwrap().recv();
    }));
    assert!(!hasher.observe_wait(|_| {}), "only one observer");
    let patience = Duration::from_secs(10);
    let hash = hasher.dummy_hash();

    let first = hasher.verify(pw("guess"), hash.clone());
    seen.recv_timeout(patience).unwrap();
    assert_eq!((hasher.stats().queued, hasher.stats().started), (0, 1));

    let waiting: Vec<_> = (0..2).map(|_| hasher.verify(pw("guess"), hash.clone())).collect();
    assert_eq!(hasher.stats().queued, 2);
    let refused = hasher.verify(pw("guess"), hash.clone());
    let stats = hasher.stats();
    assert_eq!((stats.queued, stats.busy_rejections), (2, 1), "{stats:?}");
    assert!(matches!(refused.await, Err(HashError::Busy { .. })));

    std::thread::sleep(Duration::from_millis(30));
    release.send(()).unwrap();
    assert!(!first.await.unwrap());
    // The next job waited at least as long as the first one was held.
    assert!(seen.recv_timeout(patience).unwrap() >= Duration::from_millis(30));
    release.send(()).unwrap();
    seen.recv_timeout(patience).unwrap();
    release.send(()).unwrap();
    for job in waiting {
        assert!(!job.await.unwrap());
    }
    let stats = hasher.stats();
    assert_eq!((stats.queued, stats.started, stats.busy_rejections), (0, 3, 1), "{stats:?}");
}

/// Waits up to 10 s for the pool's scrub count to reach `want`.
fn wait_for_scrubs(gauge: &HashPoolGauge, want: u64) -> u64 {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while gauge.stats().scrubs < want && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    gauge.stats().scrubs
}

/// A thread that hashed scrubs its memory once when no job follows: not before it has hashed,
/// not again while it stays idle, and the pool hashes as before afterwards.
#[test]
fn an_idle_thread_scrubs_its_memory_once() {
    let quick = Duration::from_millis(20);
    for engine in Argon2Engine::ALL {
        let hasher = Argon2Hasher::new(Argon2Config { engine, scrub_after: quick, ..small(2, 4) }).unwrap();
        let gauge = hasher.gauge();
        std::thread::sleep(quick * 5);
        assert_eq!(gauge.stats().scrubs, 0, "{engine:?}: a thread that never hashed has nothing to scrub");

        assert!(!block_on(hasher.verify(pw("x"), hasher.dummy_hash())).unwrap());
        assert_eq!(wait_for_scrubs(&gauge, 1), 1, "{engine:?}");
        std::thread::sleep(quick * 5);
        assert_eq!(gauge.stats().scrubs, 1, "{engine:?}: scrubbed memory is not scrubbed again");

        let hash = block_on(hasher.hash(pw("after the scrub"))).unwrap();
        assert!(block_on(hasher.verify(pw("after the scrub"), hash)).unwrap(), "{engine:?}");
    }
}

/// Jobs do not scrub: only an idle spell of `scrub_after` (or stopping) does.
#[test]
fn hashing_does_not_scrub_before_the_delay() {
    let hasher = Argon2Hasher::new(Argon2Config { scrub_after: Duration::from_secs(3600), ..small(2, 4) }).unwrap();
    for _ in 0..4 {
        assert!(!block_on(hasher.verify(pw("x"), hasher.dummy_hash())).unwrap());
    }
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(hasher.stats().scrubs, 0);
}

/// Dropping the hasher stops its threads, and one that still holds a password's memory
/// scrubs it on the way out (the delay is an hour, so nothing else could have).
#[test]
fn a_stopping_thread_scrubs_what_it_holds() {
    let hasher = Argon2Hasher::new(Argon2Config { scrub_after: Duration::from_secs(3600), ..small(2, 4) }).unwrap();
    let gauge = hasher.gauge();
    assert!(!block_on(hasher.verify(pw("x"), hasher.dummy_hash())).unwrap());
    drop(hasher);
    assert_eq!(wait_for_scrubs(&gauge, 1), 1, "only the thread that hashed scrubs");
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(gauge.stats().scrubs, 1, "the other thread held nothing");
}

#[test]
fn a_panicking_wait_observer_does_not_stop_the_pool() {
    let hasher = Argon2Hasher::new(small(1, 2)).unwrap();
    assert!(hasher.observe_wait(|_| panic!("observer bug")));
    for _ in 0..2 {
        assert!(!block_on(hasher.verify(pw("x"), hasher.dummy_hash())).unwrap());
    }
    assert_eq!(hasher.stats().started, 2);
}

/// A store may hold hashes made by either engine (a switch, or instances configured apart):
/// each pool verifies the other's, and the argon2-rust crate's own verifier reads ours.
#[test]
fn hashes_made_on_one_engine_verify_on_the_other_and_with_argon2_rust_itself() {
    let reference = Argon2Hasher::new(small_on(Argon2Engine::ReferencePort)).unwrap();
    let rust_crypto = Argon2Hasher::new(small_on(Argon2Engine::RustCrypto)).unwrap();
    for (maker, checker) in [(&reference, &rust_crypto), (&rust_crypto, &reference)] {
        let hash = block_on(maker.hash(pw("correct horse battery staple"))).unwrap();
        assert!(block_on(checker.verify(pw("correct horse battery staple"), hash.clone())).unwrap());
        assert!(!block_on(checker.verify(pw("correct horse battery stapler"), hash.clone())).unwrap());
        assert!(!checker.needs_rehash(&hash));
        let own = argon2_rust::Argon2::verify_password(
            hash.as_str(),
            b"correct horse battery staple",
            argon2_rust::Algorithm::Argon2id,
        );
        assert_eq!(own, Ok(()));
    }
    // argon2-rust's own PHC string, at a cost neither pool has used yet, read by both.
    let params =
        argon2_rust::Params::builder().memory(argon2_rust::params::Memory::kib(2048)).passes(2).build().unwrap();
    let theirs = argon2_rust::Argon2::new(argon2_rust::Algorithm::Argon2id, argon2_rust::Version::V0x13, params)
        .hash_password(b"a stored older hash", b"sixteen byte sal")
        .unwrap();
    for pool in [&reference, &rust_crypto] {
        assert!(block_on(pool.verify(pw("a stored older hash"), PasswordHash::new(theirs.clone()))).unwrap());
        assert!(!block_on(pool.verify(pw("a stored older hash?"), PasswordHash::new(theirs.clone()))).unwrap());
        assert!(pool.needs_rehash(&PasswordHash::new(theirs.clone())));
    }
}

#[test]
fn hashes_interoperate_with_the_stock_argon2_api_both_ways() {
    use argon2::Argon2;
    use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
    let hasher = Argon2Hasher::new(small(1, 2)).unwrap();
    // Ours, checked by the argon2 crate's own verifier.
    let ours = block_on(hasher.hash(pw("correct horse battery staple"))).unwrap();
    let stock = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(1024, 1, 1, None).unwrap());
    let parsed = PhcHash::new(ours.as_str()).unwrap();
    assert!(stock.verify_password(b"correct horse battery staple", &parsed).is_ok());
    assert!(stock.verify_password(b"another password entirely", &parsed).is_err());
    // The argon2 crate's, with more memory than the pool's scratch has yet, checked by ours.
    let bigger = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(2048, 1, 1, None).unwrap());
    let theirs = PasswordHash::new(bigger.hash_password(b"a stored older hash").unwrap().to_string());
    assert!(block_on(hasher.verify(pw("a stored older hash"), theirs.clone())).unwrap());
    assert!(!block_on(hasher.verify(pw("a stored older hash!"), theirs)).unwrap());
    // And the scratch memory reused across hashes gives the same answers again.
    assert!(block_on(hasher.verify(pw("correct horse battery staple"), ours.clone())).unwrap());
    assert!(!block_on(hasher.verify(pw("correct horse battery stapl"), ours)).unwrap());
}
