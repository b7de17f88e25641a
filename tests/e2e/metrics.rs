//! Section 6: `GET /metrics` in the Prometheus text format, read back by a small parser of
//! that format rather than by matching lines loosely.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use portcullis_e2e::backend::postgres_available;
use portcullis_e2e::proxy::TcpProxy;
use portcullis_e2e::{Backend, Resp, TestApp};

/// One sample line: `name{label="value",...} value`.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A parsed exposition: its samples and the `# TYPE` of each family.
#[derive(Debug)]
struct Exposition {
    samples: Vec<Sample>,
    types: BTreeMap<String, String>,
}

impl Exposition {
    fn parse(text: &str) -> Self {
        let mut samples = Vec::new();
        let mut types = BTreeMap::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                assert!(types.insert(name.to_owned(), kind.to_owned()).is_none(), "two TYPE lines for {name}");
            } else if !line.starts_with('#') {
                samples.push(parse_sample(line));
            }
        }
        Self { samples, types }
    }

    /// The value of the one sample of `name` whose labels include `labels`.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut found = self
            .samples
            .iter()
            .filter(|s| s.name == name && labels.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v)));
        let first = found.next()?;
        assert!(found.next().is_none(), "{name} {labels:?} matches more than one sample");
        Some(first.value)
    }

    fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.value(name, labels).unwrap_or_else(|| panic!("no sample {name} {labels:?}"))
    }
}

/// Parses one sample line strictly: a metric name, optional `{...}` labels with escaped
/// values, a space and a float.
fn parse_sample(line: &str) -> Sample {
    let name_end = line.find(['{', ' ']).unwrap_or_else(|| panic!("no value: {line}"));
    let name = &line[..name_end];
    assert!(
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
        "bad metric name in {line}"
    );
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(inner) = rest.strip_prefix('{') {
        let mut chars = inner.char_indices();
        let mut key = String::new();
        let close = loop {
            let (i, c) = chars.next().unwrap_or_else(|| panic!("unterminated labels: {line}"));
            match c {
                '}' => break i,
                ',' => {}
                '=' => {
                    assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "label value not quoted: {line}");
                    let mut value = String::new();
                    loop {
                        match chars.next().unwrap_or_else(|| panic!("unterminated value: {line}")).1 {
                            '"' => break,
                            '\\' => match chars.next().unwrap().1 {
                                'n' => value.push('\n'),
                                other => value.push(other),
                            },
                            other => value.push(other),
                        }
                    }
                    assert!(labels.insert(std::mem::take(&mut key), value).is_none(), "label twice: {line}");
                }
                c => key.push(c),
            }
        };
        rest = &inner[close + 1..];
    }
    let value = rest.strip_prefix(' ').unwrap_or_else(|| panic!("no space before the value: {line}"));
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().unwrap_or_else(|_| panic!("bad value in {line}")),
    };
    Sample { name: name.to_owned(), labels, value }
}

/// True for a hyphenated UUID anywhere in `text`.
fn contains_uuid(text: &str) -> bool {
    let b = text.as_bytes();
    (0..b.len().saturating_sub(35)).any(|i| {
        b[i..i + 36].iter().enumerate().all(|(j, c)| match j {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
    })
}

async fn scrape(app: &TestApp) -> (Resp, Exposition) {
    let r = app.get("/metrics", None).await;
    assert_eq!(r.status, 200, "{r:?}");
    let exposition = Exposition::parse(&r.text);
    (r, exposition)
}

async fn metrics_describe_requests_logins_hashing_mail_and_the_store(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let email = "metrics.admin@example.com";
    // Registration, verification and a successful login, then admin rights.
    let token = app.admin_token(email).await;
    let id = app.stored_user(email).await.unwrap().id.to_string();
    let wrong = app.login(email, "not the password at all").await;
    assert_eq!(wrong.status, 401, "{wrong:?}");
    let shown = app.get(&format!("/api/v1/admin/users/{id}"), Some(&token)).await;
    assert_eq!(shown.status, 200, "{shown:?}");
    let stray = "/api/v1/no-such-thing/0b7e1d6c-3f0a-4c1e-9a51-6f1d2a3b4c5d";
    assert_eq!(app.get(stray, None).await.status, 404);

    let (r, m) = scrape(&app).await;
    assert_eq!(r.header("content-type").as_deref(), Some("text/plain; version=0.0.4; charset=utf-8"));
    assert!(!contains_uuid(&r.text), "a UUID leaked into the metrics:\n{}", r.text);
    assert!(!r.text.contains(email) && !r.text.contains('@'), "an address leaked into the metrics");
    assert!(!r.text.contains("no-such-thing"), "a raw path became a label");

    // Requests by method, route pattern and status.
    assert_eq!(m.types["portcullis_http_requests_total"], "counter");
    assert_eq!(m.types["portcullis_http_request_duration_seconds"], "histogram");
    let requests = |method: &str, route: &str, status: &str| {
        m.value("portcullis_http_requests_total", &[("method", method), ("route", route), ("status", status)])
            .unwrap_or(0.0)
    };
    assert!(requests("POST", "/api/v1/auth/login", "200") >= 1.0);
    assert!(requests("POST", "/api/v1/auth/login", "401") >= 1.0);
    assert!(requests("GET", "/api/v1/admin/users/{id}", "200") >= 1.0);
    assert!(requests("GET", "unmatched", "404") >= 1.0);
    let routes: Vec<&str> = m.samples.iter().filter_map(|s| s.labels.get("route").map(String::as_str)).collect();
    assert!(routes.iter().all(|r| *r == "unmatched" || r.starts_with('/')), "{routes:?}");
    let login_200 = [("method", "POST"), ("route", "/api/v1/auth/login"), ("status", "200")];
    assert!(m.get("portcullis_http_request_duration_seconds_count", &login_200) >= 1.0);
    let all_bucket = [login_200.as_slice(), &[("le", "+Inf")]].concat();
    assert_eq!(
        m.get("portcullis_http_request_duration_seconds_bucket", &all_bucket),
        m.get("portcullis_http_request_duration_seconds_count", &login_200)
    );

    // Login outcomes by reason, every reason present from the start.
    assert!(m.get("portcullis_logins_total", &[("outcome", "success"), ("reason", "none")]) >= 1.0);
    assert!(m.get("portcullis_logins_total", &[("outcome", "failure"), ("reason", "invalid_credentials")]) >= 1.0);
    assert_eq!(m.get("portcullis_logins_total", &[("outcome", "failure"), ("reason", "account_suspended")]), 0.0);

    // The hashing pool, as configured by the harness.
    assert_eq!(app.settings.passwords.hash_workers, 2);
    assert_eq!(m.get("portcullis_hash_workers", &[]), 2.0);
    assert_eq!(m.get("portcullis_hash_queue_capacity", &[]), app.settings.passwords.hash_queue as f64);
    assert!(m.get("portcullis_hash_queue_depth", &[]) >= 0.0);
    assert_eq!(m.get("portcullis_hash_busy_rejections_total", &[]), 0.0);
    assert_eq!(m.types["portcullis_hash_queue_wait_seconds"], "histogram");
    assert!(m.get("portcullis_hash_queue_wait_seconds_count", &[]) >= 3.0, "register, login and wrong login hashed");

    // The store and the mail outbox.
    assert_eq!(m.get("portcullis_store_up", &[]), 1.0);
    assert!(m.get("portcullis_mail_outbox_depth", &[]) >= 0.0);
    assert_eq!(m.get("portcullis_mail_outbox_failed", &[]), 0.0);
    let max = app.settings.database.max_connections as f64;
    assert_eq!(m.get("portcullis_store_pool_max_connections", &[]), max);
    let in_use = m.get("portcullis_store_pool_connections", &[("state", "in_use")]);
    let idle = m.get("portcullis_store_pool_connections", &[("state", "idle")]);
    assert!(in_use >= 0.0 && idle >= 0.0 && in_use + idle <= max, "in use {in_use}, idle {idle}");
    assert!(m.get("portcullis_store_pool_waiting", &[]) >= 0.0);

    // The verification mail went out; the worker counts its round just after delivering.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, m) = scrape(&app).await;
        let sent = m.get("portcullis_mail_deliveries_total", &[("result", "sent")]);
        if sent >= 1.0 {
            assert_eq!(m.get("portcullis_mail_deliveries_total", &[("result", "dropped")]), 0.0);
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no delivery counted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Scrapes are requests too, under their own pattern.
    let (_, m) = scrape(&app).await;
    assert!(m.get("portcullis_http_requests_total", &[("route", "/metrics"), ("status", "200")]) >= 1.0);
}

async fn metrics_can_be_switched_off(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.server.metrics_enabled = false).await;
    app.get("/metrics", None).await.assert_problem(404, "NOT_FOUND");
    assert_eq!(app.get("/health/live", None).await.status, 200);
}

async fn webhook_series_count_tries_and_the_queue(backend: Backend) {
    use portcullis_webhook_http::test_receiver::{Behaviour, Receiver};
    let receiver = Receiver::start().await;
    receiver.set_behaviour(Behaviour::Status { status: 503, retry_after: Some("3600".to_owned()) });
    let app = TestApp::spawn_with(backend, |s| {
        s.webhooks.allow_http = true;
        s.webhooks.allowed_private_cidrs = vec!["127.0.0.0/8".parse().unwrap()];
        s.webhooks.poll_interval_ms = 20;
    })
    .await;
    let (_, m) = scrape(&app).await;
    for outcome in ["delivered", "retried", "failed", "gone"] {
        assert_eq!(m.get("portcullis_webhook_deliveries_total", &[("outcome", outcome)]), 0.0, "{outcome} at 0");
    }
    assert_eq!(m.get("portcullis_webhook_queue_depth", &[]), 0.0);
    assert_eq!(m.get("portcullis_webhook_oldest_pending_seconds", &[]), 0.0);
    assert_eq!(m.types.get("portcullis_webhook_oldest_pending_seconds").map(String::as_str), Some("gauge"));

    let admin = app.admin_token("hooks.admin@example.com").await;
    let body = serde_json::json!({"url": receiver.url(), "events": ["auth.login.success"]});
    let created = app.call("POST", "/api/v1/admin/webhooks", Some(body), Some(&admin), &[]).await;
    assert_eq!(created.status, 201, "{created:?}");
    app.login("hooks.admin@example.com", portcullis_e2e::PASSWORD).await;
    receiver.wait_for(1, Duration::from_secs(10)).await;
    // The failed try is recorded after the answer: wait for the counter, not the receiver.
    let deadline = Instant::now() + Duration::from_secs(10);
    let m = loop {
        let (_, m) = scrape(&app).await;
        if m.get("portcullis_webhook_deliveries_total", &[("outcome", "retried")]) >= 1.0 {
            break m;
        }
        assert!(Instant::now() < deadline, "the failed try was never counted");
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    // Retry-After: 3600 keeps it pending for an hour: one delivery in the queue, waiting.
    assert_eq!(m.get("portcullis_webhook_queue_depth", &[]), 1.0);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (_, later) = scrape(&app).await;
    assert!(later.get("portcullis_webhook_oldest_pending_seconds", &[]) > 0.0, "the waiting delivery has an age");
    assert_eq!(m.get("portcullis_webhook_deliveries_total", &[("outcome", "delivered")]), 0.0);
    assert_eq!(receiver.count(), 1, "not tried again before Retry-After");
}

portcullis_e2e::on_both_backends!(
    metrics_describe_requests_logins_hashing_mail_and_the_store,
    metrics_can_be_switched_off,
    webhook_series_count_tries_and_the_queue,
);

/// `host:port` of a `postgres://user@host:port/db` URL.
fn server_of(url: &str) -> &str {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = after_scheme.split('/').next().unwrap_or_default();
    authority.rsplit_once('@').map_or(authority, |(_, host_port)| host_port)
}

#[actix_web::test]
async fn a_store_that_does_not_answer_leaves_the_outbox_out_without_hanging_the_scrape() {
    if !postgres_available().await {
        return;
    }
    let app = TestApp::spawn(Backend::Postgres).await;
    // A second instance reaches the database through a proxy that can be cut (see faults.rs).
    let host_port = server_of(&app.settings.database.url).to_owned();
    let target = tokio::net::lookup_host(&host_port).await.unwrap().next().unwrap();
    let proxy = TcpProxy::start(target).await.unwrap();
    let mut settings = app.settings.clone();
    settings.database.url = settings.database.url.replacen(&host_port, &proxy.addr().to_string(), 1);
    let cut_off = app.with_settings(settings).await;
    assert_eq!(scrape(&cut_off).await.1.get("portcullis_store_up", &[]), 1.0);

    proxy.cut();
    let started = Instant::now();
    let (_, m) = scrape(&cut_off).await;
    // Not a performance assertion: far above the one-second store budget, only to catch a hang.
    assert!(started.elapsed() < Duration::from_secs(5), "the scrape took {:?}", started.elapsed());
    assert_eq!(m.get("portcullis_store_up", &[]), 0.0);
    assert_eq!(m.value("portcullis_mail_outbox_depth", &[]), None);
    assert_eq!(m.value("portcullis_mail_outbox_failed", &[]), None);
    assert_eq!(m.get("portcullis_hash_workers", &[]), 2.0, "the rest is still there");
    assert!(m.value("portcullis_store_pool_max_connections", &[]).is_some());

    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(15);
    while scrape(&cut_off).await.1.get("portcullis_store_up", &[]) != 1.0 {
        assert!(Instant::now() < deadline, "the store never came back in the metrics");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn the_parser_reads_labels_with_escapes() {
    let s = parse_sample(r#"x_total{a="1",b="q\"uo\\te\n",c="{}"} 2.5"#);
    assert_eq!(s.name, "x_total");
    assert_eq!(s.labels["b"], "q\"uo\\te\n");
    assert_eq!(s.labels["c"], "{}");
    assert_eq!(s.value, 2.5);
    assert_eq!(parse_sample("up 1").value, 1.0);
    assert!(contains_uuid("id=0b7e1d6c-3f0a-4c1e-9a51-6f1d2a3b4c5d"));
    assert!(!contains_uuid("/api/v1/admin/users/{id}"));
}
