//! Criterion micro-benchmarks of the per-request building blocks: password hashing at the
//! configured (default) parameters, access tokens, GeoIP, user-agent parsing, and the
//! login-history query on SQLite. `make bench` runs them and copies the estimates into
//! BENCHMARKS.md.

#![expect(clippy::unwrap_used, reason = "benchmark set-up")]

use std::hint::black_box;
use std::net::IpAddr;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use portcullis_bench::USER_AGENTS;
use portcullis_crypto::PasetoIssuer;
use portcullis_device_uap::UapDeviceDetector;
use portcullis_domain::model::{
    AuditAction, Device, Enrichment, HistoryFilter, NewAuditEntry, Password, SessionId, Timestamp, UserId,
};
use portcullis_domain::ports::{
    AccessClaims, AuditRepository, Change, DeviceDetector, GeoLookup, PasswordHasher, TokenIssuer, UnitOfWork,
};
use portcullis_geo_maxmind::{MaxmindGeoLookup, fixture};
use portcullis_store_diesel::{DbConfig, DieselStore};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// Both Argon2 engines at the default parameters, one thread each: hash and verify.
fn passwords(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("argon2id");
    group.sample_size(20);
    for engine in portcullis_crypto::Argon2Engine::ALL {
        let hasher = portcullis_bench::hasher_on(engine, 1).unwrap();
        let hash = rt.block_on(hasher.hash(Password::new("correct horse battery staple"))).unwrap();
        group.bench_function(format!("hash/{}", engine.name()), |b| {
            b.iter(|| rt.block_on(hasher.hash(Password::new("correct horse battery staple"))).unwrap());
        });
        group.bench_function(format!("verify/{}", engine.name()), |b| {
            b.iter(|| rt.block_on(hasher.verify(Password::new("correct horse battery staple"), hash.clone())).unwrap());
        });
    }
    group.finish();
}

fn tokens(c: &mut Criterion) {
    let issuer = PasetoIssuer::from_key_bytes(&[7; 32]).unwrap();
    let now = Timestamp::from_unix_millis(1_772_945_185_344);
    let claims = AccessClaims {
        user_id: UserId::new_v7(),
        session_id: SessionId::new_v7(),
        issued_at: now,
        expires_at: now.plus(Duration::from_secs(900)),
        aal: portcullis_domain::model::Aal::One,
        amr: vec![portcullis_domain::model::AuthMethod::Password],
    };
    let token = issuer.issue(&claims).unwrap();
    let mut group = c.benchmark_group("paseto_v4_local");
    group.bench_function("issue", |b| b.iter(|| issuer.issue(black_box(&claims)).unwrap()));
    group.bench_function("verify", |b| b.iter(|| issuer.verify(black_box(&token), now).unwrap()));
    group.finish();
}

fn enrichment(c: &mut Criterion) {
    let geo = MaxmindGeoLookup::from_bytes(fixture::city_db_bytes()).unwrap();
    let hit: IpAddr = fixture::KNOWN[0].0.parse().unwrap();
    let devices = UapDeviceDetector::new().unwrap();
    let mut group = c.benchmark_group("enrichment");
    group.bench_function("geo_lookup_hit", |b| b.iter(|| geo.locate(black_box(hit))));
    let miss: IpAddr = [203, 0, 114, 7].into();
    group.bench_function("geo_lookup_miss", |b| b.iter(|| geo.locate(black_box(miss))));
    let mut i = 0;
    group.bench_function("user_agent_cold", |b| {
        b.iter(|| {
            i += 1;
            devices.parse_uncached(black_box(USER_AGENTS[i % USER_AGENTS.len()]))
        });
    });
    group.bench_function("user_agent_cached", |b| {
        b.iter(|| {
            i += 1;
            devices.detect(black_box(USER_AGENTS[i % USER_AGENTS.len()]))
        });
    });
    group.finish();
    // Once per process, at start-up: compiling the uap-core rules.
    let mut group = c.benchmark_group("enrichment_start_up");
    group.sample_size(10);
    group.bench_function("user_agent_rules_build", |b| {
        b.iter(|| portcullis_device_uap::compile_rules_uncached().unwrap());
    });
    group.finish();
}

fn login_history(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let store = rt.block_on(DieselStore::connect(&DbConfig::new(url))).unwrap();
    let now = Timestamp::from_unix_millis(1_772_945_185_344);
    let user = portcullis_testing::fixtures::user("bench@example.com", now);
    let mut changes = vec![Change::InsertUser(user.clone())];
    for n in 0..1_000_i64 {
        changes.push(Change::AppendAudit(NewAuditEntry {
            user_id: Some(user.id),
            action: if n % 4 == 0 { AuditAction::LoginFailure } else { AuditAction::LoginSuccess },
            enrichment: Enrichment {
                ip_address: [81, 2, 69, 142].into(),
                user_agent: Some(USER_AGENTS[2].to_owned()),
                device: Device::default(),
                location: None,
            },
            fingerprint: None,
            metadata: serde_json::Map::new(),
            created_at: Timestamp::from_unix_millis(now.unix_millis() - n * 60_000),
        }));
    }
    rt.block_on(store.commit(changes)).unwrap();
    let actions = HistoryFilter::All.actions().to_vec();
    c.bench_function("login_history_sqlite_1000_entries_limit_50", |b| {
        b.iter(|| rt.block_on(store.audit_page(user.id, actions.clone(), 50, 0)).unwrap());
    });
}

criterion_group!(benches, passwords, tokens, enrichment, login_history);
criterion_main!(benches);
